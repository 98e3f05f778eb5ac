#include "uuid.hpp"

#include <cstdint>
#include <random>

namespace eventstore {
namespace {

// xoshiro256** (Blackman and Vigna): fast, 256 bits of state, good enough
// that 122 random bits per UUID do not collide in practice.
class Xoshiro256 {
 public:
  Xoshiro256() {
    std::random_device device;
    for (auto& word : state_) {
      word = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    }
    if ((state_[0] | state_[1] | state_[2] | state_[3]) == 0) state_[0] = 1;
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4];
};

}  // namespace

std::string_view generate_uuid(char (&out)[kUuidLength]) noexcept {
  thread_local Xoshiro256 generator;
  std::uint64_t high = generator.next();
  std::uint64_t low = generator.next();
  high = (high & ~0xF000ULL) | 0x4000ULL;                // version 4
  low = (low & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // variant 10xx
  constexpr char kHex[] = "0123456789abcdef";
  std::size_t at = 0;
  auto put = [&](std::uint64_t word, int first_nibble, int nibbles) {
    for (int i = 0; i < nibbles; ++i)
      out[at++] = kHex[(word >> (60 - 4 * (first_nibble + i))) & 0xF];
  };
  put(high, 0, 8);
  out[at++] = '-';
  put(high, 8, 4);
  out[at++] = '-';
  put(high, 12, 4);
  out[at++] = '-';
  put(low, 0, 4);
  out[at++] = '-';
  put(low, 4, 12);
  return {out, kUuidLength};
}

}  // namespace eventstore
