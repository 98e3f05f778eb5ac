// The library the fixture program dlopen()s.
#include "record.hpp"

namespace plugin {

template <typename T>
class Registry {
 public:
  T add(T value) {
    FIXTURE_RECORD("plugin_registry_add");
    total_ += value;
    return total_;
  }

 private:
  T total_{};
};

}  // namespace plugin

extern "C" int fixture_plugin_entry(int value) {
  FIXTURE_RECORD("plugin_entry");
  plugin::Registry<int> registry;
  return registry.add(value);
}
