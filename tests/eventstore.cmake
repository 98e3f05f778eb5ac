# The reference event store (examples/eventstore): storage semantics and
# durability, the RPC methods in both pool modes, the HTTP server, and a short
# baseline + compare on it end to end.
perflab_add_test(eventstore_store_test
  SOURCES eventstore_store_test.cc
  LIBS eventstore_store)
