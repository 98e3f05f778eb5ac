// Another malloc replacement, for LD_PRELOAD: it wins the symbol lookup over
// perflab::alloc, which must then report alloc_counting_active() == false.
//
// Like a real allocator (jemalloc, tcmalloc, ASan) it replaces the family
// including malloc_usable_size, and it aborts on a pointer it did not hand
// out: each block carries a header with a magic word. perflab must never pass
// it a block from glibc, not even in its load-time checks. Like allocators
// older than them, it lacks reallocarray and aligned_alloc, so the program's
// calls reach perflab's, which must get the block from this allocator.
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(std::size_t size) noexcept;
void* __libc_memalign(std::size_t alignment, std::size_t size) noexcept;
void __libc_free(void* block) noexcept;
}

namespace {

constexpr std::uint64_t kMagic = 0x666f726569676e21;  // "foreign!"

// Sits right before each block; 32 bytes keep malloc's 16-byte alignment.
struct Header {
  void* base;  // what glibc returned
  std::size_t size;
  std::uint64_t unused;
  std::uint64_t magic;
};
static_assert(sizeof(Header) == 32);

Header* header_of(void* block) noexcept { return static_cast<Header*>(block) - 1; }

[[noreturn]] void die(const char* message) noexcept {
  const ssize_t ignored = write(2, message, std::strlen(message));
  (void)ignored;
  std::abort();
}

// The block's header, after checking that this allocator made it.
Header* owned_header(void* block, const char* caller) noexcept {
  Header* header = header_of(block);
  if (header->magic != kMagic) die(caller);
  return header;
}

// alignment: a power of two.
void* allocate(std::size_t alignment, std::size_t size) noexcept {
  const std::size_t offset = alignment > sizeof(Header) ? alignment : sizeof(Header);
  if (size > SIZE_MAX - offset) {
    errno = ENOMEM;
    return nullptr;
  }
  void* base =
      alignment > 16 ? __libc_memalign(offset, size + offset) : __libc_malloc(size + offset);
  if (base == nullptr) return nullptr;
  void* block = static_cast<char*>(base) + offset;
  *header_of(block) = Header{base, size, 0, kMagic};
  return block;
}

bool is_power_of_two(std::size_t n) noexcept { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

#define FOREIGN extern "C" __attribute__((visibility("default")))

FOREIGN void* malloc(std::size_t size) noexcept { return allocate(16, size); }

FOREIGN void free(void* block) noexcept {
  if (block == nullptr) return;
  Header* header = owned_header(block, "foreign_malloc: free() of a block it does not own\n");
  header->magic = 0;
  __libc_free(header->base);
}

FOREIGN std::size_t malloc_usable_size(void* block) noexcept {
  if (block == nullptr) return 0;
  return owned_header(block, "foreign_malloc: malloc_usable_size() of a block it does not own\n")
      ->size;
}

FOREIGN void* calloc(std::size_t count, std::size_t size) noexcept {
  std::size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* block = allocate(16, bytes);
  if (block != nullptr) std::memset(block, 0, bytes);
  return block;
}

FOREIGN void* realloc(void* block, std::size_t size) noexcept {
  if (block == nullptr) return malloc(size);
  if (size == 0) {
    free(block);
    return nullptr;
  }
  const std::size_t old_size =
      owned_header(block, "foreign_malloc: realloc() of a block it does not own\n")->size;
  void* moved = allocate(16, size);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, old_size < size ? old_size : size);
  free(block);
  return moved;
}

FOREIGN void* memalign(std::size_t alignment, std::size_t size) noexcept {
  if (alignment > SIZE_MAX / 4) {
    errno = EINVAL;
    return nullptr;
  }
  std::size_t rounded = 16;
  while (rounded < alignment) rounded *= 2;
  return allocate(rounded, size);
}

FOREIGN int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (!is_power_of_two(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  void* block = memalign(alignment, size);
  if (block == nullptr) return ENOMEM;
  *out = block;
  return 0;
}

FOREIGN void* valloc(std::size_t size) noexcept { return memalign(4096, size); }

FOREIGN void* pvalloc(std::size_t size) noexcept {
  if (size > SIZE_MAX - 4095) {
    errno = ENOMEM;
    return nullptr;
  }
  return memalign(4096, (size + 4095) & ~std::size_t{4095});
}
