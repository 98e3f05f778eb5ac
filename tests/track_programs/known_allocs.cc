// A program whose allocations are known exactly, for perflab track's tests.
// Each kind of work lives in its own noinline function so the profile can be
// checked site by site:  track_programs/known_allocs
// [threads|fork|exec|crash|term|quick-exit|paced|dlopen PATH]
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

// Keeps the compiler from removing allocations whose results look unused.
void* volatile g_sink;

extern "C" [[gnu::noinline]] void malloc_free_1000() {
  for (int i = 0; i < 1000; ++i) {
    void* p = std::malloc(100);
    g_sink = p;
    std::free(p);
  }
}

extern "C" [[gnu::noinline]] void new_delete_500() {
  for (int i = 0; i < 500; ++i) {
    int* p = new int[10];
    g_sink = p;
    delete[] p;
  }
}

extern "C" [[gnu::noinline]] void leak_ten() {
  for (int i = 0; i < 10; ++i) g_sink = std::malloc(64);
}

extern "C" [[gnu::noinline]] void every_kind_once() {
  // Each block escapes through g_sink: Clang removes a calloc, realloc and
  // free chain whose blocks nobody sees.
  void* p = std::calloc(4, 8);
  g_sink = p;
  p = std::realloc(p, 200);
  g_sink = p;
  std::free(p);
  void* a = nullptr;
  if (posix_memalign(&a, 64, 100) == 0) std::free(a);
  void* aligned = aligned_alloc(128, 256);
  g_sink = aligned;
  std::free(aligned);
  int* n = new (std::nothrow) int(3);
  g_sink = n;
  delete n;
  auto* big = new (std::align_val_t{256}) char[512];
  g_sink = big;
  operator delete[](big, std::align_val_t{256});
}

extern "C" [[gnu::noinline]] void* thread_worker(void*) {
  for (int i = 0; i < 250; ++i) {
    void* p = std::malloc(32);
    g_sink = p;
    std::free(p);
  }
  return nullptr;
}

extern "C" [[gnu::noinline]] void child_work() {
  for (int i = 0; i < 77; ++i) {
    void* p = std::malloc(48);
    g_sink = p;
    std::free(p);
  }
}

// 500,000 bytes over some 100 ms, so timeline samples fall in the middle.
extern "C" [[gnu::noinline]] void paced_500k() {
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 10; ++i) {
      void* p = std::malloc(1000);
      g_sink = p;
      std::free(p);
    }
    usleep(2000);
  }
}

int main(int argc, char** argv) {
  malloc_free_1000();
  new_delete_500();
  leak_ten();
  every_kind_once();
  const char* what = argc > 1 ? argv[1] : "";
  if (std::strcmp(what, "threads") == 0) {
    pthread_t t[4];
    for (auto& th : t) pthread_create(&th, nullptr, &thread_worker, nullptr);
    for (auto& th : t) pthread_join(th, nullptr);
  } else if (std::strcmp(what, "fork") == 0) {
    const pid_t pid = fork();
    if (pid == 0) {
      child_work();
      std::exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
  } else if (std::strcmp(what, "exec") == 0) {
    execl("/bin/true", "true", static_cast<char*>(nullptr));
    return 1;
  } else if (std::strcmp(what, "crash") == 0) {
    raise(SIGSEGV);
  } else if (std::strcmp(what, "term") == 0) {
    kill(getpid(), SIGTERM);
    pause();
  } else if (std::strcmp(what, "paced") == 0) {
    paced_500k();
  } else if (std::strcmp(what, "quick-exit") == 0) {
    _exit(3);
  } else if (std::strcmp(what, "dlopen") == 0 && argc > 2) {
    void* lib = dlopen(argv[2], RTLD_NOW);
    if (lib == nullptr) return 1;
    auto plugin = reinterpret_cast<void (*)()>(dlsym(lib, "plugin_allocate"));
    if (plugin == nullptr) return 1;
    plugin();
    dlclose(lib);
  }
  return 0;
}
