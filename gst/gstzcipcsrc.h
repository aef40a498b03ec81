/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_SRC_H__
#define __GST_ZCIPC_SRC_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_SRC (gst_zcipc_src_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcSrc, gst_zcipc_src, GST, ZCIPC_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (zcipcsrc);

G_END_DECLS
#endif
