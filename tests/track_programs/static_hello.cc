// Statically linked on purpose: perflab track must refuse it with a clear error.
#include <stdio.h>
int main() {
  puts("hello");
  return 0;
}
