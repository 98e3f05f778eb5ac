#include "uuid.hpp"

#include <array>
#include <cstdint>
#include <perflab/detail/xoshiro.hpp>
#include <random>

namespace eventstore {
namespace {

static_assert(kUuidLength == perflab::detail::kUuidTextLength);

// Seeded once per thread from the system's entropy: 122 random bits per UUID
// from xoshiro256** do not collide in practice.
perflab::detail::Xoshiro256 seeded_generator() {
  std::random_device device;
  std::array<std::uint64_t, 4> words{};
  for (auto& word : words) word = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return perflab::detail::Xoshiro256(words);
}

}  // namespace

std::string_view generate_uuid(char (&out)[kUuidLength]) noexcept {
  thread_local perflab::detail::Xoshiro256 generator = seeded_generator();
  const std::uint64_t high = generator.next();
  const std::uint64_t low = generator.next();
  return {out, perflab::detail::write_uuid_v4(out, high, low)};
}

}  // namespace eventstore
