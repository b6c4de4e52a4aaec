/* Parley error codes: 0 is success, failures are negative. Every module returns these,
 * async callbacks receive them as `status`, and pl_strerror() names them for logs. */
#ifndef PARLEY_COMMON_ERR_H
#define PARLEY_COMMON_ERR_H

#include <stddef.h>

enum pl_err {
    PL_OK = 0,
    PL_ENOMEM = -1,      /* allocation failed (normally fatal, see alloc.h) */
    PL_EINVAL = -2,      /* argument or input not acceptable */
    PL_EPROTO = -3,      /* peer broke its protocol (bad JSON, bad frame, bad SSE) */
    PL_ETOOBIG = -4,     /* a configured size limit was exceeded */
    PL_ETIMEDOUT = -5,   /* a deadline expired */
    PL_ECLOSED = -6,     /* the connection or object is closed or closing */
    PL_EUPSTREAM = -7,   /* an upstream service answered with an error */
    PL_EAUTH = -8,       /* credentials missing, forged or malformed */
    PL_EEXPIRED = -9,    /* credentials valid but expired */
    PL_ENOTFOUND = -10,  /* no such object */
    PL_EBUSY = -11,      /* resource held by someone else; try later */
    PL_EIO = -12,        /* I/O or connection failure */
    PL_ECANCELED = -13,  /* operation cancelled (shutdown, caller cancel) */
    PL_EUTF8 = -14,      /* text is not valid UTF-8 */
    PL_EFORBIDDEN = -15, /* authenticated but not allowed */
    PL_ELIMITED = -16,   /* refused by a rate limit; try again later */
    PL_EREPLICAS = -17   /* written, but fewer replicas than required confirmed it in time */
};

/** Short stable name of an error code ("ETIMEDOUT"); never NULL. */
const char *pl_strerror(int err);

/** Write a message into the caller's error buffer `err` of `errlen` bytes (the "char *err,
 *  size_t errlen" convention of set-up functions); does nothing when `err` is NULL or errlen 0. */
void pl_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
