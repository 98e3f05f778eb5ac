#include "perflab/pool/options.hpp"

#include <cstdio>

namespace perflab {

PoolStats& PoolStats::operator+=(const PoolStats& other) noexcept {
  gets += other.gets;
  hits += other.hits;
  misses += other.misses;
  returns += other.returns;
  drops += other.drops;
  trimmed += other.trimmed;
  in_use += other.in_use;
  idle_objects += other.idle_objects;
  idle_bytes += other.idle_bytes;
  return *this;
}

void print_leak_report(const LeakReport& report) noexcept {
  // stdio rather than iostreams: this may run during static destruction.
  std::fprintf(stderr, "perflab: pool '%s' destroyed with %lld object(s) still in use\n",
               report.pool.c_str(), static_cast<long long>(report.outstanding));
  for (const LeakReport::Site& site : report.sites) {
    std::fprintf(stderr, "perflab:   %llu taken at %s:%u\n",
                 static_cast<unsigned long long>(site.objects), site.where.file, site.where.line);
  }
  if (report.sites.empty() && report.outstanding > 0)
    std::fprintf(stderr,
                 "perflab:   (set PoolOptions::track_sites to see where they were taken)\n");
}

}  // namespace perflab
