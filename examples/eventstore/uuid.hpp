// Version-4 UUIDs for messages written without an id.
#pragma once

#include <cstddef>
#include <string_view>

namespace eventstore {

inline constexpr std::size_t kUuidLength = 36;

/// Writes a random version-4 UUID, lowercase, 8-4-4-4-12, into out (no
/// terminator) and returns a view of it. Random bits come from a per-thread
/// xoshiro256** generator seeded once per thread from std::random_device, so
/// a call costs a few nanoseconds and no system call. Unique, not secret: do
/// not use these as tokens. Thread-safety: any thread, no shared state.
std::string_view generate_uuid(char (&out)[kUuidLength]) noexcept;

}  // namespace eventstore
