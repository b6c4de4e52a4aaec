/* Names for the error codes of err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *pl_strerror(int err)
{
    switch (err) {
    case PL_OK:
        return "OK";
    case PL_ENOMEM:
        return "ENOMEM";
    case PL_EINVAL:
        return "EINVAL";
    case PL_EPROTO:
        return "EPROTO";
    case PL_ETOOBIG:
        return "ETOOBIG";
    case PL_ETIMEDOUT:
        return "ETIMEDOUT";
    case PL_ECLOSED:
        return "ECLOSED";
    case PL_EUPSTREAM:
        return "EUPSTREAM";
    case PL_EAUTH:
        return "EAUTH";
    case PL_EEXPIRED:
        return "EEXPIRED";
    case PL_ENOTFOUND:
        return "ENOTFOUND";
    case PL_EBUSY:
        return "EBUSY";
    case PL_EIO:
        return "EIO";
    case PL_ECANCELED:
        return "ECANCELED";
    case PL_EUTF8:
        return "EUTF8";
    case PL_EFORBIDDEN:
        return "EFORBIDDEN";
    case PL_ELIMITED:
        return "ELIMITED";
    case PL_EREPLICAS:
        return "EREPLICAS";
    }
    return "EUNKNOWN";
}

void pl_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
