/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#include <string.h>

#include "zcipc/result.h"

const char *
zcipc_strerror (int res)
{
  if (res >= 0)
    return "Success";
  return strerror (-res);
}
