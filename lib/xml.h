/* xml.h: the one safe way this project parses XML, and small tree helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "cpuset.h"
#include "util.h"

/*
 * Parse untrusted XML: at most HPVM_XML_MAX bytes, UTF-8, no network, no DTD
 * loading, no entity expansion, no DOCTYPE at all (libvirt never writes one),
 * and the root element must be @root (no namespace).
 * @what names the input in messages ("domain XML", "capabilities XML").
 * On success *ret_doc is the caller's (xmlFreeDoc). Returns 0, -EINVAL
 * (not well-formed, DOCTYPE, wrong root: message says which and where),
 * -EFBIG, -ENOMEM.
 */
int hpvm_xml_parse(const char *buf, size_t len, const char *root, const char *what,
                   xmlDoc **ret_doc, HpvmError *err);

static inline void hpvm_xml_doc_freep(xmlDoc **d) { if (*d) xmlFreeDoc(*d); }
static inline void hpvm_xml_char_freep(xmlChar **s) { if (*s) xmlFree(*s); }
#define _cleanup_xmldoc_ __attribute__((cleanup(hpvm_xml_doc_freep)))
#define _cleanup_xmlchar_ __attribute__((cleanup(hpvm_xml_char_freep)))

/* First element child of @parent named @name (no namespace), or NULL. */
xmlNode *hpvm_xml_child(const xmlNode *parent, const char *name);

/* Next element sibling after @node named @name, or NULL. */
xmlNode *hpvm_xml_next(const xmlNode *node, const char *name);

/* Iterate element children named @name. */
#define HPVM_XML_FOREACH(var, parent, name) \
        for (xmlNode *var = hpvm_xml_child((parent), (name)); var; var = hpvm_xml_next(var, (name)))

/* Attribute value (no namespace) borrowed as const char * until freed: caller xmlFree()s. */
xmlChar *hpvm_xml_prop(const xmlNode *node, const char *name);

/*
 * Read an unsigned decimal attribute / text content through hpvm_parse_u64.
 * Returns 0, -ENOENT (absent), -EINVAL, -ERANGE, -EOVERFLOW; *ret untouched on failure.
 */
int hpvm_xml_prop_u64(const xmlNode *node, const char *name, uint64_t max, uint64_t *ret);
int hpvm_xml_text_u64(const xmlNode *node, uint64_t max, uint64_t *ret);

/* A cpuset attribute libvirt would accept (ids < @limit); false if absent or not in our blank-free grammar. */
bool hpvm_xml_prop_cpuset(const xmlNode *node, const char *name, unsigned limit, HpvmCpuSet *ret);

/*
 * Convert an amount with a libvirt unit (b, bytes, k, KB, KiB, M, MB, MiB, G,
 * GB, GiB, T, TB, TiB, P, PB, PiB, E, EB, EiB; NULL = @default_unit) to KiB,
 * rounding bytes up. Returns 0, -EINVAL (unknown unit), -EOVERFLOW.
 */
int hpvm_xml_scale_kib(uint64_t value, const char *unit, const char *default_unit, uint64_t *ret_kib);
