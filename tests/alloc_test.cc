// perflab::alloc: every replaced function counted once with the right bytes,
// the realloc rules, failures, operator new's contract, per-thread and
// process-wide counting and AllocScope.
//
// Counting windows never contain a gtest macro: results are read first and
// asserted after, because gtest allocates when it reports.
#include "perflab/alloc.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

using perflab::AllocCounts;
using perflab::AllocScope;

// Hides a value from the optimizer: a function reached through it cannot be
// treated as the builtin malloc, and a block passed through it escapes, so no
// allocation/free pair is folded away.
template <class T>
T opaque(T value) {
  asm volatile("" : "+r"(value) : : "memory");
  return value;
}

// Not a constant, so the compiler does not warn about a size it can see is huge.
std::size_t huge_size() { return opaque(std::numeric_limits<std::size_t>::max() / 2 + 1); }

std::size_t usable(void* block) { return malloc_usable_size(block); }

struct MallocCase {
  const char* name;
  std::size_t requested;
  std::function<void*()> allocate;
};

std::vector<MallocCase> malloc_family() {
  return {
      {"malloc", 100, [] { return opaque(&malloc)(100); }},
      {"calloc", 300, [] { return opaque(&calloc)(10, 30); }},
      {"realloc(nullptr)", 100, [] { return opaque(&realloc)(nullptr, 100); }},
      {"reallocarray(nullptr)", 120, [] { return opaque(&reallocarray)(nullptr, 10, 12); }},
      {"posix_memalign", 100,
       [] {
         void* block = nullptr;
         return opaque(&posix_memalign)(&block, 64, 100) == 0 ? block : nullptr;
       }},
      {"aligned_alloc", 128, [] { return opaque(&aligned_alloc)(64, 128); }},
      {"memalign", 100, [] { return opaque(&memalign)(64, 100); }},
      {"valloc", 100, [] { return opaque(&valloc)(100); }},
      {"pvalloc", 100, [] { return opaque(&pvalloc)(100); }},
  };
}

TEST(AllocTest, CountsEveryMallocFamilyCallOnceWithTheRequestedBytes) {
  for (const MallocCase& c : malloc_family()) {
    SCOPED_TRACE(c.name);
    AllocScope scope;
    void* block = c.allocate();
    const AllocCounts allocated = scope.counts();
    ASSERT_NE(block, nullptr);
    const std::size_t size = usable(block);
    scope.restart();
    opaque (&free)(block);
    const AllocCounts freed = scope.counts();

    EXPECT_EQ(allocated.allocs, 1u);
    EXPECT_EQ(allocated.frees, 0u);
    EXPECT_EQ(allocated.bytes_allocated, c.requested);
    EXPECT_EQ(allocated.live_bytes, static_cast<std::int64_t>(size));
    EXPECT_EQ(allocated.peak_live_bytes, static_cast<std::int64_t>(size));
    EXPECT_EQ(freed.allocs, 0u);
    EXPECT_EQ(freed.frees, 1u);
    EXPECT_EQ(freed.bytes_freed, size);
    EXPECT_EQ(freed.live_bytes, -static_cast<std::int64_t>(size));
  }
}

TEST(AllocTest, AlignedFunctionsReturnAlignedBlocks) {
  for (const MallocCase& c : malloc_family()) {
    SCOPED_TRACE(c.name);
    void* block = c.allocate();
    const auto address = reinterpret_cast<std::uintptr_t>(block);
    EXPECT_EQ(address % alignof(std::max_align_t), 0u);
    const std::string name = c.name;
    if (name == "posix_memalign" || name == "aligned_alloc" || name == "memalign") {
      EXPECT_EQ(address % 64, 0u);
    }
    if (name == "valloc" || name == "pvalloc") {
      EXPECT_EQ(address % 4096, 0u);
    }
    opaque (&free)(block);
  }
}

TEST(AllocTest, CountsLargeMmappedBlocksWithTheirUsableSize) {
  // Above glibc's highest mmap threshold: always a chunk of its own mapping.
  const std::size_t size = std::size_t{48} << 20;
  AllocScope scope;
  void* block = opaque(&malloc)(size);
  void* aligned = opaque(&aligned_alloc)(4096, size);
  const AllocCounts counts = scope.counts();
  ASSERT_NE(block, nullptr);
  ASSERT_NE(aligned, nullptr);
  const std::size_t usable_sum = usable(block) + usable(aligned);
  opaque (&free)(block);
  opaque (&free)(aligned);
  const AllocCounts after_free = scope.counts();

  EXPECT_EQ(counts.allocs, 2u);
  EXPECT_EQ(counts.bytes_allocated, 2 * size);
  EXPECT_EQ(counts.live_bytes, static_cast<std::int64_t>(usable_sum));
  EXPECT_EQ(after_free.bytes_freed, usable_sum);
  EXPECT_EQ(after_free.live_bytes, 0);
}

TEST(AllocTest, CountsBlocksOfAnotherThreadsArenaWithTheirUsableSize) {
  std::vector<void*> blocks;
  blocks.reserve(64);
  std::thread([&] {  // a second thread allocates from its own glibc arena
    for (std::size_t i = 0; i < 64; ++i) blocks.push_back(opaque(&malloc)(40 + 100 * i));
  })
      .join();
  std::size_t usable_sum = 0;
  for (void* block : blocks) usable_sum += usable(block);
  AllocScope scope;
  for (void* block : blocks) opaque (&free)(block);
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(counts.frees, 64u);
  EXPECT_EQ(counts.bytes_freed, usable_sum);
}

TEST(AllocTest, FreeOfNullptrIsNotCounted) {
  AllocScope scope;
  opaque (&free)(nullptr);
  ::operator delete(opaque<void*>(nullptr));
  ::operator delete[](opaque<void*>(nullptr));
  ::operator delete (opaque<void*>(nullptr), std::align_val_t{64});
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(counts, AllocCounts{});
}

TEST(AllocTest, FailedAllocationsAreNotCounted) {
  const std::size_t huge = huge_size();
  AllocScope scope;
  void* from_malloc = opaque(&malloc)(huge);
  void* from_calloc = opaque(&calloc)(huge, 4);  // overflows
  void* from_realloc = opaque(&realloc)(nullptr, huge);
  void* from_reallocarray = opaque(&reallocarray)(nullptr, huge, 4);  // overflows
  void* from_memalign = opaque(&memalign)(64, huge);
  void* from_aligned_alloc = opaque(&aligned_alloc)(64, huge);
  void* from_valloc = opaque(&valloc)(huge);
  void* unused = nullptr;
  const int too_big = opaque(&posix_memalign)(&unused, 64, huge);
  const int bad_alignment = opaque(&posix_memalign)(&unused, 24, 100);
  void* from_new = ::operator new(huge, std::nothrow);
  void* from_new_array = ::operator new[](huge, std::nothrow);
  void* from_aligned_new = ::operator new (huge, std::align_val_t{64}, std::nothrow);
  const AllocCounts counts = scope.counts();

  EXPECT_EQ(from_malloc, nullptr);
  EXPECT_EQ(from_calloc, nullptr);
  EXPECT_EQ(from_realloc, nullptr);
  EXPECT_EQ(from_reallocarray, nullptr);
  EXPECT_EQ(from_memalign, nullptr);
  EXPECT_EQ(from_aligned_alloc, nullptr);
  EXPECT_EQ(from_valloc, nullptr);
  EXPECT_EQ(too_big, ENOMEM);
  EXPECT_EQ(bad_alignment, EINVAL);
  EXPECT_EQ(from_new, nullptr);
  EXPECT_EQ(from_new_array, nullptr);
  EXPECT_EQ(from_aligned_new, nullptr);
  EXPECT_EQ(counts, AllocCounts{});
}

TEST(AllocTest, FailedMallocSetsErrnoAndPosixMemalignDoesNot) {
  errno = 0;
  void* block = opaque(&malloc)(huge_size());
  EXPECT_EQ(block, nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  void* unused = nullptr;
  EXPECT_EQ(opaque(&posix_memalign)(&unused, 64, huge_size()), ENOMEM);
  EXPECT_EQ(errno, 0);
}

TEST(AllocTest, AlignedAllocRejectsAnAlignmentThatIsNotAPowerOfTwo) {
  int errors[3] = {};
  void* blocks[3] = {};
  const std::size_t alignments[3] = {0, 24, 96};
  AllocScope scope;
  for (int i = 0; i < 3; ++i) {
    errno = 0;
    blocks[i] = opaque(&aligned_alloc)(opaque(alignments[i]), 96);
    errors[i] = errno;
  }
  const AllocCounts counts = scope.counts();
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(alignments[i]);
    EXPECT_EQ(blocks[i], nullptr);
    EXPECT_EQ(errors[i], EINVAL);
  }
  EXPECT_EQ(counts, AllocCounts{});
}

TEST(AllocTest, AlignedAllocAcceptsAnySizeAndSmallPowersOfTwo) {
  void* odd_size = opaque(&aligned_alloc)(64, 100);  // not a multiple: fine since C17
  void* tiny_alignment = opaque(&aligned_alloc)(1, 10);
  EXPECT_NE(odd_size, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(odd_size) % 64, 0u);
  EXPECT_NE(tiny_alignment, nullptr);
  opaque (&free)(odd_size);
  opaque (&free)(tiny_alignment);
}

TEST(AllocTest, ReallocThatMovesOrGrowsCountsOneFreeAndOneAllocation) {
  void* block = opaque(&malloc)(16);
  const std::size_t old_size = usable(block);
  AllocScope scope;
  void* grown = opaque(&realloc)(block, 100000);  // past the 16-byte chunk: moves
  const AllocCounts counts = scope.counts();
  ASSERT_NE(grown, nullptr);
  const std::size_t new_size = usable(grown);
  opaque (&free)(grown);

  EXPECT_EQ(counts.allocs, 1u);
  EXPECT_EQ(counts.frees, 1u);
  EXPECT_EQ(counts.bytes_allocated, 100000u);
  EXPECT_EQ(counts.bytes_freed, old_size);
  EXPECT_EQ(counts.live_bytes,
            static_cast<std::int64_t>(new_size) - static_cast<std::int64_t>(old_size));
}

TEST(AllocTest, ReallocInPlaceStillCountsOneFreeAndOneAllocation) {
  void* block = opaque(&malloc)(100);
  const std::size_t size = usable(block);
  AllocScope scope;
  void* same = opaque(&realloc)(block, 50);  // shrinking within the chunk stays in place
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(same, block);
  opaque (&free)(same);

  EXPECT_EQ(counts.allocs, 1u);
  EXPECT_EQ(counts.frees, 1u);
  EXPECT_EQ(counts.bytes_allocated, 50u);
  EXPECT_EQ(counts.bytes_freed, size);
}

TEST(AllocTest, ReallocToZeroBytesIsOneFree) {
  void* block = opaque(&malloc)(100);
  const std::size_t size = usable(block);
  AllocScope scope;
  void* result = opaque(&realloc)(block, 0);
  const AllocCounts counts = scope.counts();

  EXPECT_EQ(result, nullptr);  // glibc frees the block
  EXPECT_EQ(counts.allocs, 0u);
  EXPECT_EQ(counts.frees, 1u);
  EXPECT_EQ(counts.bytes_freed, size);
}

TEST(AllocTest, ReallocOfNullptrWithZeroBytesIsOneAllocation) {
  AllocScope scope;
  void* block = opaque(&realloc)(nullptr, 0);
  const AllocCounts counts = scope.counts();
  ASSERT_NE(block, nullptr);
  opaque (&free)(block);
  EXPECT_EQ(counts.allocs, 1u);
  EXPECT_EQ(counts.bytes_allocated, 0u);
}

TEST(AllocTest, FailedReallocCountsNothingAndKeepsTheBlock) {
  char* block = static_cast<char*>(opaque(&malloc)(32));
  block[0] = 'k';
  AllocScope scope;
  void* result = opaque(&realloc)(block, huge_size());
  void* result_array = opaque(&reallocarray)(block, huge_size(), 2);
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(result, nullptr);
  EXPECT_EQ(result_array, nullptr);
  EXPECT_EQ(counts, AllocCounts{});
  EXPECT_EQ(block[0], 'k');
  opaque (&free)(block);
}

TEST(AllocTest, ReallocarrayCountsLikeRealloc) {
  void* block = opaque(&malloc)(8);
  const std::size_t old_size = usable(block);
  AllocScope scope;
  void* grown = opaque(&reallocarray)(block, 1000, 8);
  const AllocCounts counts = scope.counts();
  ASSERT_NE(grown, nullptr);
  opaque (&free)(grown);
  EXPECT_EQ(counts.allocs, 1u);
  EXPECT_EQ(counts.frees, 1u);
  EXPECT_EQ(counts.bytes_allocated, 8000u);
  EXPECT_EQ(counts.bytes_freed, old_size);
}

struct NewCase {
  const char* name;
  std::size_t requested;
  std::size_t alignment;
  std::function<void*()> allocate;
};

TEST(AllocTest, CountsEveryOperatorNewFormOnce) {
  constexpr auto kAlign = std::align_val_t{64};
  const std::vector<NewCase> cases = {
      {"new", 40, 1, [] { return ::operator new(opaque<std::size_t>(40)); }},
      {"new[]", 40, 1, [] { return ::operator new[](opaque<std::size_t>(40)); }},
      {"new nothrow", 40, 1, [] { return ::operator new(opaque<std::size_t>(40), std::nothrow); }},
      {"new[] nothrow", 40, 1,
       [] { return ::operator new[](opaque<std::size_t>(40), std::nothrow); }},
      {"new aligned", 40, 64, [=] { return ::operator new(opaque<std::size_t>(40), kAlign); }},
      {"new[] aligned", 40, 64, [=] { return ::operator new[](opaque<std::size_t>(40), kAlign); }},
      {"new aligned nothrow", 40, 64,
       [=] { return ::operator new(opaque<std::size_t>(40), kAlign, std::nothrow); }},
      {"new[] aligned nothrow", 40, 64,
       [=] { return ::operator new[](opaque<std::size_t>(40), kAlign, std::nothrow); }},
  };
  for (const NewCase& c : cases) {
    SCOPED_TRACE(c.name);
    AllocScope scope;
    void* block = opaque(c.allocate());
    const AllocCounts counts = scope.counts();
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(block) % c.alignment, 0u);
    EXPECT_EQ(counts.allocs, 1u);
    EXPECT_EQ(counts.frees, 0u);
    EXPECT_EQ(counts.bytes_allocated, c.requested);
    EXPECT_EQ(counts.live_bytes, static_cast<std::int64_t>(usable(block)));
    opaque (&free)(block);  // every form forwards to glibc, so free matches
  }
}

struct DeleteCase {
  const char* name;
  bool aligned;
  std::function<void(void*)> deallocate;
};

TEST(AllocTest, CountsEveryOperatorDeleteFormOnceWithTheUsableBytes) {
  constexpr auto kAlign = std::align_val_t{64};
  const std::vector<DeleteCase> cases = {
      {"delete", false, [](void* p) { ::operator delete(p); }},
      {"delete[]", false, [](void* p) { ::operator delete[](p); }},
      {"delete nothrow", false, [](void* p) { ::operator delete(p, std::nothrow); }},
      {"delete[] nothrow", false, [](void* p) { ::operator delete[](p, std::nothrow); }},
      // A sized delete still frees the usable size, not the size passed.
      {"delete sized", false, [](void* p) { ::operator delete (p, std::size_t{33}); }},
      {"delete[] sized", false, [](void* p) { ::operator delete[](p, std::size_t{33}); }},
      {"delete aligned", true, [=](void* p) { ::operator delete(p, kAlign); }},
      {"delete[] aligned", true, [=](void* p) { ::operator delete[](p, kAlign); }},
      {"delete aligned nothrow", true,
       [=](void* p) { ::operator delete(p, kAlign, std::nothrow); }},
      {"delete[] aligned nothrow", true,
       [=](void* p) { ::operator delete[](p, kAlign, std::nothrow); }},
      {"delete sized aligned", true,
       [=](void* p) { ::operator delete (p, std::size_t{33}, kAlign); }},
      {"delete[] sized aligned", true,
       [=](void* p) { ::operator delete[](p, std::size_t{33}, kAlign); }},
  };
  for (const DeleteCase& c : cases) {
    SCOPED_TRACE(c.name);
    void* block = c.aligned ? ::operator new(opaque<std::size_t>(33), kAlign)
                            : ::operator new(opaque<std::size_t>(33));
    const std::size_t size = usable(block);
    AllocScope scope;
    c.deallocate(opaque(block));
    const AllocCounts counts = scope.counts();
    EXPECT_EQ(counts.allocs, 0u);
    EXPECT_EQ(counts.frees, 1u);
    EXPECT_EQ(counts.bytes_freed, size);
    EXPECT_GT(size, 33u);  // so the sized forms could not pass by counting the size given
  }
}

struct alignas(128) OverAligned {
  char bytes[200];
};

TEST(AllocTest, NewAndDeleteExpressionsCountOncePerObject) {
  AllocScope scope;
  int* one = opaque(new int(7));
  int* many = opaque(new int[25]);
  auto* aligned = opaque(new OverAligned);
  auto* nothrow = opaque(new (std::nothrow) int(3));
  const AllocCounts allocated = scope.counts();
  scope.restart();
  delete one;
  delete[] many;
  delete aligned;
  delete nothrow;
  const AllocCounts freed = scope.counts();

  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(aligned) % 128, 0u);
  EXPECT_EQ(allocated.allocs, 4u);
  EXPECT_EQ(allocated.bytes_allocated,
            sizeof(int) + 25 * sizeof(int) + sizeof(OverAligned) + sizeof(int));
  EXPECT_EQ(freed.frees, 4u);
  EXPECT_EQ(static_cast<std::int64_t>(freed.bytes_freed), allocated.live_bytes);
}

// What a thrown std::bad_alloc costs by itself: libstdc++ allocates the
// exception object with malloc.
AllocCounts cost_of_throwing_bad_alloc() {
  AllocScope scope;
  try {
    throw std::bad_alloc();
  } catch (const std::bad_alloc&) {
  }
  return scope.counts();
}

TEST(AllocTest, OperatorNewThrowsBadAllocAndCountsOnlyTheException) {
  const AllocCounts exception_cost = cost_of_throwing_bad_alloc();
  const std::size_t huge = huge_size();
  bool threw = false;
  bool threw_aligned = false;
  AllocScope scope;
  try {
    opaque(::operator new(huge));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  const AllocCounts counts = scope.counts();
  scope.restart();
  try {
    opaque(::operator new[](huge, std::align_val_t{64}));
  } catch (const std::bad_alloc&) {
    threw_aligned = true;
  }
  const AllocCounts aligned_counts = scope.counts();

  EXPECT_TRUE(threw);
  EXPECT_TRUE(threw_aligned);
  EXPECT_EQ(counts, exception_cost);
  EXPECT_EQ(aligned_counts, exception_cost);
  EXPECT_LT(counts.bytes_allocated, 1024u);  // the huge request itself is not there
}

std::atomic<int> handler_calls{0};

void give_up_on_third_call() {
  if (handler_calls.fetch_add(1) + 1 == 3) std::set_new_handler(nullptr);
}

void throw_bad_alloc() {
  handler_calls.fetch_add(1);
  throw std::bad_alloc();
}

TEST(AllocTest, OperatorNewCallsTheNewHandlerUntilItGivesUp) {
  handler_calls = 0;
  std::set_new_handler(give_up_on_third_call);
  bool threw = false;
  try {
    opaque(::operator new(huge_size()));
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  std::set_new_handler(nullptr);
  EXPECT_TRUE(threw);
  EXPECT_EQ(handler_calls.load(), 3);
}

TEST(AllocTest, NothrowNewReturnsNullptrWhenTheHandlerThrows) {
  handler_calls = 0;
  std::set_new_handler(throw_bad_alloc);
  void* block = ::operator new(huge_size(), std::nothrow);
  void* aligned = ::operator new (huge_size(), std::align_val_t{64}, std::nothrow);
  std::set_new_handler(nullptr);
  EXPECT_EQ(block, nullptr);
  EXPECT_EQ(aligned, nullptr);
  EXPECT_EQ(handler_calls.load(), 2);
}

TEST(AllocTest, ScopeReportsDeltasAndThePeakAboveItsStart) {
  void* before = opaque(&malloc)(5000);  // live before the scope must not show
  AllocScope scope;
  void* a = opaque(&malloc)(1000);
  void* b = opaque(&malloc)(2000);
  const std::size_t size_a = usable(a);
  const std::size_t size_b = usable(b);
  opaque (&free)(a);
  void* c = opaque(&malloc)(500);
  const std::size_t size_c = usable(c);
  opaque (&free)(b);
  opaque (&free)(c);
  const AllocCounts counts = scope.counts();
  opaque (&free)(before);

  EXPECT_EQ(counts.allocs, 3u);
  EXPECT_EQ(counts.frees, 3u);
  EXPECT_EQ(counts.bytes_allocated, 3500u);
  EXPECT_EQ(counts.bytes_freed, size_a + size_b + size_c);
  EXPECT_EQ(counts.live_bytes, 0);
  EXPECT_EQ(counts.peak_live_bytes, static_cast<std::int64_t>(size_a + size_b));
}

TEST(AllocTest, ScopePeakIsZeroWhenTheRegionOnlyFrees) {
  void* block = opaque(&malloc)(3000);
  const std::size_t size = usable(block);
  AllocScope scope;
  opaque (&free)(block);
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(counts.peak_live_bytes, 0);
  EXPECT_EQ(counts.live_bytes, -static_cast<std::int64_t>(size));
}

TEST(AllocTest, RestartCountsFromTheRestart) {
  AllocScope scope;
  opaque (&free)(opaque(&malloc)(4000));
  scope.restart();
  void* block = opaque(&malloc)(10);
  const std::size_t size = usable(block);
  opaque (&free)(block);
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(counts.allocs, 1u);
  EXPECT_EQ(counts.bytes_allocated, 10u);
  EXPECT_EQ(counts.peak_live_bytes, static_cast<std::int64_t>(size));
}

TEST(AllocTest, NestedScopesLeaveTheOuterPeakIntact) {
  AllocScope outer;
  void* big = opaque(&malloc)(4000);
  const std::size_t big_size = usable(big);
  opaque (&free)(big);
  AllocCounts inner_counts;
  {
    AllocScope inner;
    opaque (&free)(opaque(&malloc)(100));
    inner_counts = inner.counts();
  }
  const AllocCounts outer_counts = outer.counts();
  EXPECT_EQ(inner_counts.allocs, 1u);
  EXPECT_LT(inner_counts.peak_live_bytes, 200);
  EXPECT_EQ(outer_counts.allocs, 2u);
  EXPECT_EQ(outer_counts.peak_live_bytes, static_cast<std::int64_t>(big_size));
}

TEST(AllocTest, ThreadCountsGrowWithTheThreadsOwnCalls) {
  const AllocCounts before = perflab::thread_alloc_counts();
  void* block = opaque(&malloc)(64);
  const AllocCounts after = perflab::thread_alloc_counts();
  opaque (&free)(block);
  const AllocCounts delta = after - before;
  EXPECT_EQ(delta.allocs, 1u);
  EXPECT_EQ(delta.bytes_allocated, 64u);
  EXPECT_GE(after.peak_live_bytes, after.live_bytes);
}

// Spins until `flag` reaches `value`; no allocation, unlike a condition variable
// wait that might.
void wait_for(const std::atomic<int>& flag, int value) {
  while (flag.load() < value) std::this_thread::yield();
}

TEST(AllocTest, ThreadScopesSeeOnlyTheirOwnThread) {
  std::atomic<int> step{0};
  AllocCounts worker_counts;
  std::thread worker([&] {
    wait_for(step, 1);
    AllocScope scope;
    for (int i = 0; i < 1000; ++i) opaque (&free)(opaque(&malloc)(32));
    worker_counts = scope.counts();
    step = 2;
  });
  AllocScope scope;
  step = 1;  // the worker allocates while this scope is open
  for (int i = 0; i < 3; ++i) opaque (&free)(opaque(&malloc)(32));
  wait_for(step, 2);
  const AllocCounts main_counts = scope.counts();
  worker.join();

  EXPECT_EQ(main_counts.allocs, 3u);
  EXPECT_EQ(main_counts.frees, 3u);
  EXPECT_EQ(worker_counts.allocs, 1000u);
  EXPECT_EQ(worker_counts.frees, 1000u);
  EXPECT_EQ(worker_counts.bytes_allocated, 32000u);
}

TEST(AllocTest, ProcessScopeCountsEveryThread) {
  std::atomic<int> step{0};
  std::thread worker([&] {
    wait_for(step, 1);
    for (int i = 0; i < 500; ++i) opaque (&free)(opaque(&malloc)(48));
    step = 2;
    wait_for(step, 3);  // std::thread frees its state when this returns: not in the window
  });
  AllocScope scope(AllocScope::Of::kProcess);
  step = 1;
  for (int i = 0; i < 7; ++i) opaque (&free)(opaque(&malloc)(48));
  wait_for(step, 2);
  const AllocCounts counts = scope.counts();
  step = 3;
  worker.join();

  EXPECT_EQ(counts.allocs, 507u);
  EXPECT_EQ(counts.frees, 507u);
  EXPECT_EQ(counts.bytes_allocated, 507u * 48);
  EXPECT_EQ(counts.live_bytes, 0);
}

TEST(AllocTest, ProcessScopePeakIsTheProcessPeakNotTheSumOfThreadPeaks) {
  std::atomic<int> step{0};
  std::size_t block_size = 0;
  auto allocate_then_free = [&](int go, int done) {
    wait_for(step, go);
    void* block = opaque(&malloc)(100000);
    block_size = usable(block);
    opaque (&free)(block);
    step = done;
  };
  std::thread first([&] { allocate_then_free(1, 2); });
  std::thread second([&] { allocate_then_free(3, 4); });
  AllocScope scope(AllocScope::Of::kProcess);
  step = 1;
  wait_for(step, 2);
  step = 3;  // the second thread allocates only after the first has freed
  wait_for(step, 4);
  const AllocCounts counts = scope.counts();
  first.join();
  second.join();

  EXPECT_EQ(counts.allocs, 2u);
  EXPECT_EQ(counts.peak_live_bytes, static_cast<std::int64_t>(block_size));
}

// Process-wide counts over a thread's whole life: creating, running and
// joining a thread costs a few allocations of its own, measured with an idle
// thread and subtracted.
AllocCounts process_cost_of_thread(const std::function<void()>& work) {
  const AllocCounts before = perflab::process_alloc_counts();
  std::thread thread(work);
  thread.join();
  return perflab::process_alloc_counts() - before;
}

TEST(AllocTest, ProcessCountsIncludeExitedThreads) {
  const auto idle = [] {};
  const auto busy = [] {
    for (int i = 0; i < 100; ++i) opaque (&free)(opaque(&malloc)(64));
  };
  process_cost_of_thread(idle);  // warms glibc's thread stack cache
  const AllocCounts idle_cost = process_cost_of_thread(idle);
  const AllocCounts busy_cost = process_cost_of_thread(busy);

  EXPECT_EQ(busy_cost.allocs - idle_cost.allocs, 100u);
  EXPECT_EQ(busy_cost.frees - idle_cost.frees, 100u);
  EXPECT_EQ(busy_cost.bytes_allocated - idle_cost.bytes_allocated, 6400u);
  EXPECT_EQ(busy_cost.live_bytes, idle_cost.live_bytes);
}

pthread_key_t late_key;

// Runs after perflab's own key destructor (keys run in creation order and
// perflab creates its key when the library loads), i.e. after the thread's
// slot was folded.
void allocate_at_thread_exit(void*) {
  for (int i = 0; i < 5; ++i) opaque (&free)(opaque(&malloc)(16));
}

TEST(AllocTest, CallsAfterAThreadWasFoldedStillCountInProcessTotals) {
  ASSERT_EQ(pthread_key_create(&late_key, allocate_at_thread_exit), 0);
  const auto idle = [] {};
  const auto exiting = [] { pthread_setspecific(late_key, &late_key); };
  process_cost_of_thread(idle);
  const AllocCounts idle_cost = process_cost_of_thread(idle);
  const AllocCounts exiting_cost = process_cost_of_thread(exiting);
  pthread_key_delete(late_key);

  EXPECT_EQ(exiting_cost.allocs - idle_cost.allocs, 5u);
  EXPECT_EQ(exiting_cost.frees - idle_cost.frees, 5u);
  EXPECT_EQ(exiting_cost.bytes_allocated - idle_cost.bytes_allocated, 80u);
}

TEST(AllocTest, ProcessCountsNeverGoBackWhileThreadsExit) {
  constexpr int kThreads = 300;
  std::atomic<int> exited{0};
  std::thread spawner([&] {
    for (int i = 0; i < kThreads; ++i) {
      std::thread([] { opaque (&free)(opaque(&malloc)(64)); }).join();
      exited.fetch_add(1);
    }
  });
  std::uint64_t last_allocs = 0;
  std::uint64_t last_frees = 0;
  int went_back = 0;
  int reads = 0;
  while (exited.load() < kThreads) {
    const AllocCounts now = perflab::process_alloc_counts();
    // A slot counted twice or missed during a fold would show as a jump back.
    went_back += now.allocs < last_allocs || now.frees < last_frees;
    last_allocs = now.allocs;
    last_frees = now.frees;
    ++reads;
  }
  spawner.join();
  EXPECT_EQ(went_back, 0);
  EXPECT_GT(reads, kThreads);  // the reads overlapped the exits
}

TEST(AllocTest, ProcessCountsCoverTheThreadsOwn) {
  const AllocCounts process = perflab::process_alloc_counts();
  const AllocCounts thread = perflab::thread_alloc_counts();
  EXPECT_GE(process.allocs, thread.allocs);
  EXPECT_GT(thread.allocs, 0u);  // gtest has allocated on this thread by now
}

TEST(AllocTest, CountingIsActiveWhenLinked) { EXPECT_TRUE(perflab::alloc_counting_active()); }

TEST(AllocTest, StandardLibraryAllocationsAreCounted) {
  AllocScope scope;
  std::string text(opaque<std::size_t>(100), 'x');  // past the small-string buffer
  std::vector<int> numbers(opaque<std::size_t>(10));
  const AllocCounts counts = scope.counts();
  EXPECT_EQ(counts.allocs, 2u);
  EXPECT_EQ(counts.bytes_allocated, 101u + 10 * sizeof(int));
  EXPECT_EQ(text.size() + numbers.size(), 110u);
}

}  // namespace
