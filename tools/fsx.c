/* fsx: an fsx-style random I/O driver (docs/mount.md, "fsx").
 *
 *   build/fsx [--seed S] [--ops N] [--max-len BYTES] [--quiet] DIR_A DIR_B
 *
 * Runs one seeded stream of operations on the file fsx.dat in DIR_A and the
 * same stream on fsx.dat in DIR_B, one operation on A then the same on B, and
 * compares after every operation: the result (a count, or the errno), the
 * bytes read, the size, and the whole content of both files.  The operations
 * are those of the classic fsx: pwrite, pread, ftruncate, a write through a
 * shared mmap (msync'd), a read through mmap, and a hole punch
 * (fallocate PUNCH_HOLE|KEEP_SIZE); every write's bytes come from the seed.
 * Typically DIR_A is a `bslab mount` and DIR_B a real tmpfs.
 *
 * A hole punch is probed first on both sides: where either answers
 * EOPNOTSUPP (the FUSE mount has no fallocate), punches become writes of
 * zeros on both, and that is said.  Exit status: 0 all operations agreed,
 * 1 a difference (the operation, both results, the first differing byte),
 * 2 usage or setup error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FSX_MAX_LEN_LIMIT (64u << 20) /* the largest --max-len accepted */

static uint64_t rng_state;

/* splitmix64: the stream of the seed. */
static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

enum { OP_WRITE, OP_READ, OP_TRUNCATE, OP_MAPWRITE, OP_MAPREAD, OP_PUNCH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"write", "read", "truncate", "mapwrite", "mapread",
                                               "punch"};

/* One side: its directory, the open file. */
typedef struct side {
  const char *dir;
  int fd;
} side;

/* What one operation gave on one side. */
typedef struct result {
  long long rc; /* a count or 0; -errno on failure */
} result;

static long long fail(void) { return -(long long)errno; }

static long long file_size(int fd) {
  struct stat sb;
  return fstat(fd, &sb) == 0 ? (long long)sb.st_size : fail();
}

/* Apply operation @op (off, len, data) to @s; bytes read into @rbuf. */
static result apply(side *s, int op, uint64_t off, uint64_t len, const unsigned char *data,
                    unsigned char *rbuf, bool punch_as_zeros) {
  result r = {0};
  switch (op) {
  case OP_WRITE: {
    ssize_t n = pwrite(s->fd, data, len, (off_t)off);
    r.rc = n < 0 ? fail() : n;
    break;
  }
  case OP_READ: {
    ssize_t n = pread(s->fd, rbuf, len, (off_t)off);
    r.rc = n < 0 ? fail() : n;
    break;
  }
  case OP_TRUNCATE:
    r.rc = ftruncate(s->fd, (off_t)off) == 0 ? 0 : fail();
    break;
  case OP_MAPWRITE: {
    /* As fsx: grow the file first, then write through a shared map. */
    long long size = file_size(s->fd);
    if (size < 0) {
      r.rc = size;
      break;
    }
    if ((long long)(off + len) > size && ftruncate(s->fd, (off_t)(off + len)) != 0) {
      r.rc = fail();
      break;
    }
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), start = off / pg * pg;
    size_t maplen = (size_t)(off + len - start);
    void *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, (off_t)start);
    if (p == MAP_FAILED) {
      r.rc = fail();
      break;
    }
    memcpy((char *)p + (off - start), data, len);
    r.rc = msync(p, maplen, MS_SYNC) == 0 ? (long long)len : fail();
    munmap(p, maplen);
    break;
  }
  case OP_MAPREAD: {
    long long size = file_size(s->fd);
    if (size < 0) {
      r.rc = size;
      break;
    }
    if ((long long)off >= size) {
      r.rc = 0;
      break;
    }
    if ((long long)(off + len) > size)
      len = (uint64_t)size - off;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), start = off / pg * pg;
    size_t maplen = (size_t)(off + len - start);
    void *p = mmap(NULL, maplen, PROT_READ, MAP_SHARED, s->fd, (off_t)start);
    if (p == MAP_FAILED) {
      r.rc = fail();
      break;
    }
    memcpy(rbuf, (char *)p + (off - start), len);
    munmap(p, maplen);
    r.rc = (long long)len;
    break;
  }
  case OP_PUNCH: {
    long long size = file_size(s->fd);
    if (size < 0) {
      r.rc = size;
      break;
    }
    if (punch_as_zeros) { /* zeros inside the file only, as a punch with KEEP_SIZE */
      if ((long long)off >= size)
        break;
      if ((long long)(off + len) > size)
        len = (uint64_t)size - off;
      static const unsigned char zeros[65536];
      for (uint64_t done = 0; done < len && r.rc == 0;) {
        uint64_t k = len - done < sizeof(zeros) ? len - done : sizeof(zeros);
        if (pwrite(s->fd, zeros, k, (off_t)(off + done)) != (ssize_t)k)
          r.rc = errno ? fail() : -EIO;
        done += k;
      }
    } else {
      r.rc = fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                       (off_t)len) == 0 ? 0 : fail();
    }
    break;
  }
  }
  return r;
}

static int usage(const char *why) {
  fprintf(stderr, "fsx: %s\nusage: fsx [--seed S] [--ops N] [--max-len BYTES] [--quiet] DIR_A DIR_B\n",
          why);
  return 2;
}

/* The whole of @fd (size @size) into a new buffer; NULL after a message. */
static unsigned char *slurp(int fd, long long size, const char *dir) {
  unsigned char *b = malloc(size ? (size_t)size : 1);
  if (!b) {
    fprintf(stderr, "fsx: out of memory\n");
    return NULL;
  }
  for (long long got = 0; got < size;) {
    ssize_t n = pread(fd, b + got, (size_t)(size - got), (off_t)got);
    if (n <= 0) {
      fprintf(stderr, "fsx: %s/fsx.dat: read back: %s\n", dir, n < 0 ? strerror(errno) : "short");
      free(b);
      return NULL;
    }
    got += n;
  }
  return b;
}

/* Whether punch holes work on @s (probed on a scratch file). */
static bool punch_works(const side *s, int *err) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/fsx.probe", s->dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  bool ok = pwrite(fd, "probe", 5, 0) == 5 &&
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1) == 0;
  *err = ok ? 0 : errno;
  close(fd);
  unlink(path);
  return ok;
}

int main(int argc, char **argv) {
  uint64_t seed = 1, ops = 1000, max_len = 256 * 1024;
  bool quiet = false;
  int i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    char *end = NULL;
    if (strcmp(argv[i], "--quiet") == 0) {
      quiet = true;
      continue;
    }
    if (strcmp(argv[i], "--help") == 0) {
      printf("usage: fsx [--seed S] [--ops N] [--max-len BYTES] [--quiet] DIR_A DIR_B\n"
             "The same seeded pwrite/pread/ftruncate/mmap/punch stream on DIR_A/fsx.dat\n"
             "and DIR_B/fsx.dat, every result and the whole content compared after each\n"
             "operation (docs/mount.md, \"fsx\"). Exit 0 agreed, 1 differed, 2 usage.\n");
      return 0;
    }
    if (i + 1 >= argc)
      return usage("an option needs a value");
    errno = 0;
    uint64_t v = strtoull(argv[i + 1], &end, 10);
    if (errno || !end || *end || argv[i + 1][0] == '-')
      return usage("a value must be a decimal number");
    if (strcmp(argv[i], "--seed") == 0)
      seed = v;
    else if (strcmp(argv[i], "--ops") == 0)
      ops = v;
    else if (strcmp(argv[i], "--max-len") == 0 && v >= 1 && v <= FSX_MAX_LEN_LIMIT)
      max_len = v;
    else
      return usage("unknown option, or --max-len outside 1..64 MiB");
    i++;
  }
  if (argc - i != 2)
    return usage("two directories needed");
  side s[2] = {{argv[i], -1}, {argv[i + 1], -1}};
  int perr[2] = {0, 0};
  bool punch_ok[2] = {punch_works(&s[0], &perr[0]), punch_works(&s[1], &perr[1])};
  bool zeros = !punch_ok[0] || !punch_ok[1];
  if (zeros && !quiet)
    for (int k = 0; k < 2; k++)
      if (!punch_ok[k])
        printf("fsx: punch hole unsupported on %s (%s): punches are writes of zeros on both\n",
               s[k].dir, strerror(perr[k]));
  for (int k = 0; k < 2; k++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/fsx.dat", s[k].dir);
    s[k].fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (s[k].fd < 0) {
      fprintf(stderr, "fsx: %s: %s\n", path, strerror(errno));
      return 2;
    }
  }
  unsigned char *data = malloc(max_len), *rb[2] = {malloc(max_len), malloc(max_len)};
  if (!data || !rb[0] || !rb[1]) {
    fprintf(stderr, "fsx: out of memory\n");
    return 2;
  }
  rng_state = seed;
  uint64_t counts[OP_COUNT] = {0};
  int status = 0;
  for (uint64_t n = 1; n <= ops && status == 0; n++) {
    int op = (int)below(OP_COUNT);
    uint64_t off = below(max_len), len = 1 + below(max_len - off);
    if (op == OP_TRUNCATE)
      off = below(max_len + 1);
    for (uint64_t k = 0; k < len; k++)
      data[k] = (unsigned char)(rnd() >> 56);
    result r[2];
    for (int k = 0; k < 2; k++)
      r[k] = apply(&s[k], op, off, len, data, rb[k], zeros);
    counts[op]++;
    long long size[2] = {file_size(s[0].fd), file_size(s[1].fd)};
    if (r[0].rc != r[1].rc || size[0] != size[1]) {
      printf("fsx: op %" PRIu64 " %s off %" PRIu64 " len %" PRIu64 ": %s gave %lld (size %lld), "
             "%s gave %lld (size %lld)\n", n, op_names[op], off, len, s[0].dir, r[0].rc, size[0],
             s[1].dir, r[1].rc, size[1]);
      status = 1;
      break;
    }
    if ((op == OP_READ || op == OP_MAPREAD) && r[0].rc > 0 &&
        memcmp(rb[0], rb[1], (size_t)r[0].rc) != 0) {
      printf("fsx: op %" PRIu64 " %s off %" PRIu64 ": the bytes read differ\n", n, op_names[op], off);
      status = 1;
      break;
    }
    unsigned char *c[2] = {slurp(s[0].fd, size[0], s[0].dir), slurp(s[1].fd, size[1], s[1].dir)};
    if (!c[0] || !c[1]) {
      status = 2;
    } else if (memcmp(c[0], c[1], (size_t)size[0]) != 0) {
      long long at = 0;
      while (c[0][at] == c[1][at])
        at++;
      printf("fsx: op %" PRIu64 " %s off %" PRIu64 " len %" PRIu64 ": contents differ from byte "
             "%lld (%02x on %s, %02x on %s)\n", n, op_names[op], off, len, at, c[0][at], s[0].dir,
             c[1][at], s[1].dir);
      status = 1;
    }
    free(c[0]);
    free(c[1]);
  }
  long long final = file_size(s[0].fd);
  for (int k = 0; k < 2; k++)
    if (close(s[k].fd) != 0 && status == 0) {
      fprintf(stderr, "fsx: close on %s: %s\n", s[k].dir, strerror(errno));
      status = 2;
    }
  free(data);
  free(rb[0]);
  free(rb[1]);
  if (status == 0 && !quiet)
    printf("fsx: seed %" PRIu64 ", %" PRIu64 " ops agreed (write %" PRIu64 ", read %" PRIu64
           ", truncate %" PRIu64 ", mapwrite %" PRIu64 ", mapread %" PRIu64 ", punch %" PRIu64
           "%s); final size %lld\n", seed, ops, counts[OP_WRITE], counts[OP_READ],
           counts[OP_TRUNCATE], counts[OP_MAPWRITE], counts[OP_MAPREAD], counts[OP_PUNCH],
           zeros ? " as zero writes" : "", final);
  return status;
}
