/* bslab output helpers: error lines, JSON strings, hex, raw bytes, the end
 * of an output file, files written for the user. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bslab/bslab.h"

int bslab_op_error(const bslab_args *a, const char *subject, int rc, bs_store *st) {
  return bslab_op_error_detail(a, subject, rc, st ? bs_last_message(st) : "");
}

void bslab_text(FILE *f, const char *s) {
  char buf[BS_NAME_ESCAPED_MAX];
  size_t need = bs_text_escape(buf, sizeof(buf), s);
  if (need < sizeof(buf)) {
    fputs(buf, f);
    return;
  }
  char *big = malloc(need + 1);
  if (big)
    bs_text_escape(big, need + 1, s);
  fputs(big ? big : buf, f); /* out of memory: the part that fits */
  free(big);
}

int bslab_op_error_detail(const bslab_args *a, const char *subject, int rc, const char *detail) {
  fprintf(stderr, "bslab: %s: ", a->verb);
  if (subject) {
    bslab_text(stderr, subject);
    fputs(": ", stderr);
  }
  fprintf(stderr, "%s (%s)%s", bs_strerror(rc), bs_err_name(rc), *detail ? "; " : "");
  bslab_text(stderr, detail);
  fputc('\n', stderr);
  return BSLAB_FAILED;
}

void bslab_vmessage(const bslab_args *a, const char *fmt, va_list ap) {
  fprintf(stderr, "bslab: %s%s", a->verb ? a->verb : "", a->verb ? ": " : "");
  char *msg = NULL;
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  bslab_text(stderr, msg ? msg : "(out of memory)"); /* it may quote a name or an argument */
  free(msg);
}

int bslab_env_error(const bslab_args *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  bslab_vmessage(a, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return BSLAB_USAGE;
}

void bslab_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p == 0x7f)
      fprintf(f, "\\u%04x", *p);
    else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 controls too: JSON allows them raw */
      fprintf(f, "\\u%04x", *++p);
    else
      fputc(*p, f); /* UTF-8 passes through: names are valid UTF-8 */
  }
  fputc('"', f);
}

void bslab_hex(FILE *f, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%02x", p[i]);
}

/* Why the first write to stdout failed, once bslab_write_raw() said so. */
static int stdout_errno;

bool bslab_write_raw(const bslab_args *a, const void *p, size_t n) {
  errno = 0;
  if (n && fwrite(p, 1, n, stdout) != n) {
    int e = errno ? errno : EIO;
    if (!stdout_errno)
      bslab_env_error(a, "cannot write to standard output: %s", strerror(e));
    stdout_errno = stdout_errno ? stdout_errno : e;
    return false;
  }
  return true;
}

int bslab_close_file(FILE *f) {
  errno = 0;
  int e = fflush(f) != 0 || ferror(f) ? (errno ? errno : EIO) : 0;
  errno = 0;
  if (f != stdout && fclose(f) != 0 && e == 0)
    e = errno ? errno : EIO;
  return e;
}

int bslab_close_stdout(void) {
  int e = bslab_close_file(stdout);
  errno = 0;
  if (fclose(stdout) != 0 && e == 0)
    e = errno ? errno : EIO;
  if (e == 0)
    return 0;
  if (!stdout_errno) /* else bslab_write_raw() said why, with the reason a later errno lost */
    fprintf(stderr, "bslab: write error: %s\n", strerror(e));
  return BSLAB_USAGE;
}

int bslab_check_format(const bslab_args *a, const char *const *allowed) {
  if (!a->format)
    return 0;
  for (const char *const *f = allowed; *f; f++)
    if (strcmp(a->format, *f) == 0)
      return 0;
  char list[64] = "";
  for (const char *const *f = allowed; *f; f++) {
    strncat(list, *f, sizeof(list) - strlen(list) - 1);
    if (f[1])
      strncat(list, "|", sizeof(list) - strlen(list) - 1);
  }
  return bslab_usage_error(a, "unknown format '%s' (expected %s)", a->format, list);
}

void bslab_uuid_str(char *buf, const uint8_t uuid[16]) {
  char *p = buf;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      *p++ = '-';
    p += sprintf(p, "%02x", uuid[i]);
  }
  *p = '\0';
}

int bslab_out_open(bslab_out *o, const bslab_args *a, const char *path, const char *what) {
  memset(o, 0, sizeof(*o));
  if (strcmp(path, "-") == 0) {
    o->f = stdout;
    return 0;
  }
  char why[600];
  if (bs_lab_file_open(&o->lf, path, why, sizeof(why)) != 0)
    return bslab_env_error(a, "%s: %s", what, why);
  o->f = o->lf.f;
  o->file = true;
  return 0;
}

int bslab_out_close(bslab_out *o, const bslab_args *a, bool keep) {
  int status = 0;
  if (o->file && keep) {
    char why[600];
    if (bs_lab_file_commit(&o->lf, why, sizeof(why)) != 0)
      status = bslab_env_error(a, "%s", why);
  } else if (o->file) {
    bs_lab_file_abort(&o->lf);
  }
  o->f = NULL;
  o->file = false;
  return status;
}

bool bslab_write_file(const bslab_args *a, const char *path, const void *buf, size_t len,
                      const char *what) {
  bslab_out o;
  if (bslab_out_open(&o, a, path, what) != 0)
    return false;
  if (fwrite(buf, 1, len, o.f) != len) {
    int e = errno;
    bslab_out_close(&o, a, false);
    bslab_env_error(a, "%s: cannot write %s: %s", what, path, strerror(e ? e : EIO));
    return false;
  }
  return bslab_out_close(&o, a, true) == 0;
}
