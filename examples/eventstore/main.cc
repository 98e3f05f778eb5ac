// eventstore: the reference event store perflab is proven on. An HTTP JSON-RPC
// server (POST /rpc, GET /metrics) over SQLite with Message DB semantics, in
// a plain (--pool=off) and a pooled (--pool=on) build of the same API. See
// README.md in this directory.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "http_server.hpp"
#include "metrics.hpp"
#include "rpc_plain.hpp"
#include "rpc_pooled.hpp"
#include "sessions.hpp"
#include "stop_signals.hpp"
#include "store.hpp"

namespace {

// Written under a temporary name and renamed, so a reader never sees half a port.
void write_port_file(const std::string& path, unsigned port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out) throw std::runtime_error("cannot write " + temporary);
  }
  std::filesystem::rename(temporary, path);
}

// Each connection is a descriptor: take the hard limit, not the (often 1024) soft one.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before the first thread starts, so that every thread has them blocked.
  eventstore::StopSignals stop_signals;
  CLI::App app{"eventstore: an HTTP JSON-RPC event store over SQLite (POST /rpc, GET /metrics)"};
  std::string db = "eventstore.db";
  std::string pool = "off";
  std::string durability = "process";
  std::string port_file;
  eventstore::ServerOptions options;
  options.port = 2113;
  app.add_option("--db", db, "SQLite database file (created when missing)")->capture_default_str();
  app.add_option("--pool", pool, "off: the plain build; on: pools, simdjson, no per-request heap")
      ->check(CLI::IsMember({"off", "on"}))
      ->capture_default_str();
  app.add_option("--bind", options.bind, "address to listen on")->capture_default_str();
  app.add_option("--port", options.port, "port to listen on (0: any free port)")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--threads", options.threads, "server threads")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--max-body", options.limits.max_body, "largest request body in bytes (413 above)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--max-header", options.limits.max_header,
                 "largest request header in bytes (431 above)")
      ->check(CLI::Range(1024u, 1024u * 1024u))
      ->capture_default_str();
  app.add_option("--timeout", options.limits.timeout_seconds,
                 "seconds a connection may sit idle or take over one request or response")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  app.add_option("--durability", durability,
                 "process: acknowledged writes survive a crash of the server; full: also a "
                 "power loss (fsync per write)")
      ->check(CLI::IsMember({"process", "full"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; a bad flag prints why and exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }

  try {
    raise_open_files_limit();
    eventstore::StoreOptions store_options;
    store_options.durability =
        durability == "full" ? eventstore::Durability::full : eventstore::Durability::process_crash;
    eventstore::Store store(db, store_options);
    eventstore::Metrics metrics(&store);
    // Declared before the server so they outlive it: sessions hold their buffers.
    std::unique_ptr<eventstore::PlainRpc> plain;
    std::unique_ptr<eventstore::PooledRpc> pooled;
    std::unique_ptr<eventstore::PlainSessions> plain_sessions;
    std::unique_ptr<eventstore::PooledSessions> pooled_sessions;
    eventstore::SessionFactory* factory = nullptr;
    if (pool == "on") {
      pooled = std::make_unique<eventstore::PooledRpc>(store, metrics);
      pooled_sessions = std::make_unique<eventstore::PooledSessions>(*pooled);
      factory = pooled_sessions.get();
    } else {
      plain = std::make_unique<eventstore::PlainRpc>(store, metrics);
      plain_sessions = std::make_unique<eventstore::PlainSessions>(*plain);
      factory = plain_sessions.get();
    }

    eventstore::HttpServer server(options, *factory, metrics);
    // SIGTERM (how perflab baseline stops a server) and SIGINT: stop
    // accepting, finish the requests in flight, close the store, exit 0.
    stop_signals.watch([&server] { server.stop(); });
    const auto endpoint = server.local_endpoint();
    if (!port_file.empty()) write_port_file(port_file, endpoint.port());
    const std::string host = endpoint.address().is_v6() ? "[" + endpoint.address().to_string() + "]"
                                                        : endpoint.address().to_string();
    std::printf("eventstore listening on %s:%u (pool=%s, db=%s)\n", host.c_str(),
                static_cast<unsigned>(endpoint.port()), pool.c_str(), db.c_str());
    std::fflush(stdout);
    server.run();
    stop_signals.unwatch();
    return 0;
  } catch (const std::exception& e) {
    // The store's messages name their origin already ("eventstore: <path>: ...").
    std::string_view what = e.what();
    if (what.starts_with("eventstore: ")) what.remove_prefix(12);
    std::fprintf(stderr, "eventstore: error: %.*s\n", static_cast<int>(what.size()), what.data());
    return 1;
  }
}
