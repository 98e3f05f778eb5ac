// xoshiro256** (Blackman and Vigna) and version-4 UUID text from its output:
// shared by the load generator's templates and the example event store.
// Internal: not part of perflab's API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace perflab::detail {

/// Fast, 256 bits of state; not for secrets. Not thread-safe: one per thread.
class Xoshiro256 {
 public:
  /// The state from four words; an all-zero state (which would only give
  /// zeros) is replaced by a fixed non-zero one.
  explicit Xoshiro256(const std::array<std::uint64_t, 4>& words) noexcept : state_(words) {
    if ((state_[0] | state_[1] | state_[2] | state_[3]) == 0) state_[0] = 1;
  }

  /// The four words from splitmix64 over `seed`: the same seed, the same
  /// sequence, on every platform.
  static Xoshiro256 from_seed(std::uint64_t seed) noexcept {
    std::array<std::uint64_t, 4> words{};
    for (auto& word : words) {
      std::uint64_t z = (seed += 0x9e3779b97f4a7c15);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
      z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
      word = z ^ (z >> 31);
    }
    return Xoshiro256(words);
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
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::array<std::uint64_t, 4> state_;
};

inline constexpr std::size_t kUuidTextLength = 36;

/// Writes the version-4 UUID made of `high` and `low` (their version and
/// variant bits overwritten) as lowercase 8-4-4-4-12 text at `out`, no
/// terminator; returns kUuidTextLength.
inline std::size_t write_uuid_v4(char* out, std::uint64_t high, std::uint64_t low) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  high = (high & ~0xF000ULL) | 0x4000ULL;                // version 4
  low = (low & ~(0xC000ULL << 48)) | (0x8000ULL << 48);  // RFC 4122 variant (10xx)
  char* p = out;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20) *p++ = '-';
    const std::uint64_t word = nibble < 16 ? high : low;
    *p++ = kHex[(word >> (60 - 4 * (nibble % 16))) & 0xF];
  }
  return kUuidTextLength;
}

}  // namespace perflab::detail
