/* Corpus replay: the main() of a fuzz target built without AFL++, so
 * `make check` runs every committed corpus input through the target under
 * ASan+UBSan with the ordinary compiler.
 *
 *   <target>_replay FILE|DIR...   exit 0: all inputs ran; 2: an input unreadable
 * A failing input aborts (the target's check) or trips a sanitizer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

/* Run one file through the target; -1 if it cannot be read.  The input sits
 * in a buffer of exactly its length, so ASan sees any read past its end. */
static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  struct stat sb;
  if (!f || fstat(fileno(f), &sb) != 0) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    if (f)
      fclose(f);
    return -1;
  }
  size_t len = (size_t)sb.st_size;
  uint8_t *buf = malloc(len ? len : 1);
  size_t got = buf ? fread(buf, 1, len, f) : 0;
  int bad = !buf || got != len || ferror(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: %s: %s\n", path, buf ? "short read" : "out of memory");
    free(buf);
    return -1;
  }
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run every regular file of @dir in name order; returns inputs run or -1. */
static int run_dir(const char *dir) {
  struct dirent **ents;
  int n = scandir(dir, &ents, NULL, by_name), ran = 0, rc = 0;
  if (n < 0) {
    fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
    if (rc == 0 && ents[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
      if (run_file(path) < 0)
        rc = -1;
      else
        ran++;
    }
    free(ents[i]);
  }
  free(ents);
  return rc < 0 ? -1 : ran;
}

int main(int argc, char **argv) {
  int total = 0;
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    int n;
    if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode))
      n = run_dir(argv[i]);
    else
      n = run_file(argv[i]) == 0 ? 1 : -1;
    if (n < 0)
      return 2;
    total += n;
  }
  if (total == 0) {
    fprintf(stderr, "replay: no inputs in %s\n", argv[1]);
    return 2;
  }
  printf("replay: %d input(s) ran\n", total);
  return 0;
}
