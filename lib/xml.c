/* xml.c: the one safe XML parser of the project (no network, no DTD, no entities) and small tree helpers. */
#include <errno.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include "fileio.h"
#include "xml.h"

/* Refuse every external resource, whatever a document asks for. */
static xmlParserInputPtr no_external_entities(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
        return NULL;
}

/*
 * libxml2 reports some encoding and I/O errors (a document declaring an iconv
 * encoding its bytes do not follow) on its process-wide generic handler, not
 * through the parser context, so XML_PARSE_NOERROR does not stop them reaching
 * stderr: the hook would print several lines where the contract allows one.
 */
static void no_generic_error(void *ctx, const char *fmt, ...)
{
}

static bool has_doctype(const char *buf, size_t len)
{
        static const char needle[] = "<!DOCTYPE";

        return memmem(buf, len, needle, sizeof(needle) - 1) != NULL;
}

int hpvm_xml_parse(const char *buf, size_t len, const char *root, const char *what,
                   xmlDoc **ret_doc, HpvmError *err)
{
        xmlExternalEntityLoader saved_loader;
        xmlGenericErrorFunc saved_generic;
        void *saved_generic_ctx;
        xmlParserCtxt *ctxt;
        xmlDoc *doc;
        xmlNode *top;

        if (len > HPVM_XML_MAX)
                return hpvm_error_set(err, -EFBIG, "%s is %zu bytes (at most %u MiB)",
                                      what, len, HPVM_XML_MAX >> 20);
        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "%s is empty", what);
        /* libvirt never writes a DOCTYPE; refusing it before libxml2 sees it keeps
         * entity declarations (and their bombs) out of the parser entirely. */
        if (has_doctype(buf, len))
                return hpvm_error_set(err, -EINVAL, "%s has a <!DOCTYPE> (DTDs and entities are not accepted)", what);

        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        /* The loader is process-wide: refuse everything while we parse, then give it back. */
        saved_loader = xmlGetExternalEntityLoader();
        xmlSetExternalEntityLoader(no_external_entities);
        saved_generic = xmlGenericError;
        saved_generic_ctx = xmlGenericErrorContext;
        xmlSetGenericErrorFunc(NULL, no_generic_error);
        /* No XML_PARSE_NOENT / DTDLOAD / DTDATTR / XINCLUDE / HUGE: nothing is fetched or expanded.
         * NOERROR/NOWARNING: libxml2 prints nothing; the error is read back below, once. */
        doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlSetExternalEntityLoader(saved_loader);
        xmlSetGenericErrorFunc(saved_generic_ctx, saved_generic);
        if (!doc || !ctxt->wellFormed) {
                const xmlError *e = xmlCtxtGetLastError(ctxt);
                int line = e ? e->line : 0;
                int code = (e && e->code == XML_ERR_NO_MEMORY) ? -ENOMEM : -EINVAL;
                char msg[256];
                size_t n;

                /* libxml2's text ends in a newline, and its depth limit advice is for programmers. */
                snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "parse error");
                if (strstr(msg, "Excessive depth"))
                        snprintf(msg, sizeof(msg), "elements nested deeper than libxml2's limit of 256");
                for (n = strlen(msg); n && strchr(" \t\r\n", msg[n - 1]); n--)
                        msg[n - 1] = '\0';
                hpvm_error_set(err, code, "%s is not well-formed XML: line %d: %s", what, line, msg);
                if (doc)
                        xmlFreeDoc(doc);
                xmlFreeParserCtxt(ctxt);
                return code;
        }
        xmlFreeParserCtxt(ctxt);

        if (doc->intSubset || doc->extSubset) {
                xmlFreeDoc(doc);
                return hpvm_error_set(err, -EINVAL, "%s has a <!DOCTYPE> (DTDs and entities are not accepted)", what);
        }
        top = xmlDocGetRootElement(doc);
        if (!top || top->ns || !xmlStrEqual(top->name, BAD_CAST root)) {
                hpvm_error_set(err, -EINVAL, "%s: root element is <%s%s%s>, expected <%s>", what,
                               top && top->ns && top->ns->prefix ? (const char *)top->ns->prefix : "",
                               top && top->ns && top->ns->prefix ? ":" : "",
                               top ? (const char *)top->name : "(none)", root);
                xmlFreeDoc(doc);
                return err ? err->code : -EINVAL;
        }
        *ret_doc = doc;
        return 0;
}

static bool is_named(const xmlNode *n, const char *name)
{
        return n->type == XML_ELEMENT_NODE && !n->ns && xmlStrEqual(n->name, BAD_CAST name);
}

xmlNode *hpvm_xml_child(const xmlNode *parent, const char *name)
{
        for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
                if (is_named(n, name))
                        return n;
        return NULL;
}

xmlNode *hpvm_xml_next(const xmlNode *node, const char *name)
{
        for (xmlNode *n = node->next; n; n = n->next)
                if (is_named(n, name))
                        return n;
        return NULL;
}

xmlChar *hpvm_xml_prop(const xmlNode *node, const char *name)
{
        return xmlGetNoNsProp(node, BAD_CAST name);
}

int hpvm_xml_prop_u64(const xmlNode *node, const char *name, uint64_t max, uint64_t *ret)
{
        _cleanup_xmlchar_ xmlChar *v = hpvm_xml_prop(node, name);

        if (!v)
                return -ENOENT;
        return hpvm_parse_u64((const char *)v, strlen((const char *)v), max, ret);
}

int hpvm_xml_text_u64(const xmlNode *node, uint64_t max, uint64_t *ret)
{
        _cleanup_xmlchar_ xmlChar *v = xmlNodeGetContent(node);
        const char *s;
        size_t len;

        if (!v)
                return -ENOENT;
        /* Text content may be indented by a pretty-printer: trim blanks, nothing else. */
        s = (const char *)v;
        len = strlen(s);
        while (len && strchr(" \t\r\n", s[len - 1]))
                len--;
        while (len && strchr(" \t\r\n", *s)) {
                s++;
                len--;
        }
        return hpvm_parse_u64(s, len, max, ret);
}

int hpvm_xml_scale_kib(uint64_t value, const char *unit, const char *default_unit, uint64_t *ret_kib)
{
        unsigned __int128 bytes;
        uint64_t base, scale = 1;
        unsigned power;

        if (!unit || !*unit)
                unit = default_unit;
        if (!strcasecmp(unit, "b") || !strcasecmp(unit, "byte") || !strcasecmp(unit, "bytes")) {
                power = 0;
                base = 1;
        } else {
                if (unit[1] == '\0' || !strcasecmp(unit + 1, "iB"))
                        base = 1024;
                else if (!strcasecmp(unit + 1, "B"))
                        base = 1000;
                else
                        return -EINVAL;
                switch (unit[0] | 0x20) {
                case 'k': power = 1; break;
                case 'm': power = 2; break;
                case 'g': power = 3; break;
                case 't': power = 4; break;
                case 'p': power = 5; break;
                case 'e': power = 6; break;
                default: return -EINVAL;
                }
        }
        while (power--)
                scale *= base;
        bytes = (unsigned __int128)value * scale;
        bytes = (bytes + 1023) / 1024;
        if (bytes > UINT64_MAX)
                return -EOVERFLOW;
        *ret_kib = (uint64_t)bytes;
        return 0;
}

bool hpvm_xml_prop_cpuset(const xmlNode *node, const char *name, unsigned limit, HpvmCpuSet *ret)
{
        _cleanup_xmlchar_ xmlChar *v = node ? hpvm_xml_prop(node, name) : NULL;

        return v && hpvm_cpuset_parse((const char *)v, strlen((const char *)v), limit, "CPU", ret, NULL) == 0;
}
