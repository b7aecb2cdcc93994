/* Parsers of the macOS RAM-disk tools' output (real/ramdisk.h; samples in
 * tests/data/ramdisk/, fuzzed by fuzz/ramdisk_parse_fuzzer.c):
 *
 *   hdiutil attach -nomount ram://2048000
 *     "/dev/disk4          \n"                        the device, padded
 *   diskutil apfs createContainer /dev/disk4 / addVolume disk5 APFS <label>
 *     "Started APFS operation on disk4\n..."
 *     "Disk from APFS operation: disk5\n"             the new container / volume
 *     "Finished APFS operation on disk4\n"
 *   diskutil info disk5s1
 *     "   Mount Point:               /Volumes/scratch\n"
 *
 * A failed tool is TOOL_FAILED (bs__tool_check quotes its stderr); output
 * without the line we need is PARSE. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "real/ramdisk.h"

__attribute__((format(printf, 4, 5))) static int say(int rc, char *msg, size_t cap, const char *f,
                                                     ...) {
  if (msg && cap) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, cap, f, ap);
    va_end(ap);
  }
  return rc;
}

/* The value of the first line of @r's stdout that starts (after blanks)
 * with @key, blanks around it removed, into @out.  False if none or too long. */
static bool line_value(const bs__tool_result *r, const char *key, char *out, size_t cap) {
  const char *s = r->out ? r->out : "";
  const char *end = s + r->out_len;
  size_t kl = strlen(key);
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *le = nl ? nl : end;
    const char *p = s;
    while (p < le && (*p == ' ' || *p == '\t'))
      p++;
    if ((size_t)(le - p) >= kl && memcmp(p, key, kl) == 0) {
      p += kl;
      while (p < le && (*p == ' ' || *p == '\t'))
        p++;
      const char *q = le;
      while (q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\r'))
        q--;
      if ((size_t)(q - p) >= cap || memchr(p, '\0', (size_t)(q - p)))
        return false;
      memcpy(out, p, (size_t)(q - p));
      out[q - p] = '\0';
      return true;
    }
    s = le + 1;
  }
  return false;
}

/* True for "disk<N>" or "disk<N>s<M>" (@slice allows the second). */
static bool disk_name(const char *s, bool slice) {
  if (strncmp(s, "disk", 4) != 0)
    return false;
  s += 4;
  if (*s < '0' || *s > '9')
    return false;
  while (*s >= '0' && *s <= '9')
    s++;
  if (slice && *s == 's') {
    s++;
    if (*s < '0' || *s > '9')
      return false;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  return *s == '\0';
}

int bs__hdiutil_attach_dev(const bs__tool_result *r, char *dev, size_t cap, char *msg, size_t mcap) {
  dev[0] = '\0';
  int rc = bs__tool_check("hdiutil", r, msg, mcap);
  if (rc != 0)
    return rc;
  char v[128];
  if (!line_value(r, "/dev/", v, sizeof(v)) || !disk_name(v, false) || strlen(v) + 6 > cap)
    return say(BS_EPARSE, msg, mcap, "hdiutil attach: output does not name a /dev/diskN device");
  snprintf(dev, cap, "/dev/%s", v);
  return 0;
}

int bs__diskutil_apfs_disk(const bs__tool_result *r, const char *what, char *disk, size_t cap,
                           char *msg, size_t mcap) {
  disk[0] = '\0';
  int rc = bs__tool_check("diskutil", r, msg, mcap);
  if (rc != 0)
    return rc;
  char v[128];
  if (!line_value(r, "Disk from APFS operation:", v, sizeof(v)) || !disk_name(v, true) ||
      strlen(v) >= cap)
    return say(BS_EPARSE, msg, mcap, "diskutil apfs %s: output has no \"Disk from APFS operation: diskN\" line",
               what);
  snprintf(disk, cap, "%s", v);
  return 0;
}

int bs__diskutil_info_mount(const bs__tool_result *r, char *mount, size_t cap, char *msg,
                            size_t mcap) {
  mount[0] = '\0';
  int rc = bs__tool_check("diskutil", r, msg, mcap);
  if (rc != 0)
    return rc;
  char v[1024];
  if (!line_value(r, "Mount Point:", v, sizeof(v)))
    return say(BS_EPARSE, msg, mcap, "diskutil info: output has no \"Mount Point:\" line");
  if (v[0] != '/')
    return say(BS_ENOT_FOUND, msg, mcap, "diskutil info: the volume is not mounted (%s)", v);
  if (strlen(v) >= cap)
    return say(BS_ENAME_TOO_LONG, msg, mcap, "diskutil info: mount point too long");
  snprintf(mount, cap, "%s", v);
  return 0;
}
