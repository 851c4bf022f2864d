/* config.c: read hpvm.conf (key=value lines, one table of keys) into an HpvmConfig. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "fileio.h"

#define DEFAULT_STATE_DIR "/run/hpvm-hooks"
#define DEFAULT_SYSFS_ROOT "/"
#define DEFAULT_LIBVIRT_URI "qemu:///system"
#define DEFAULT_STATE_USER "vdsm"
#define DEFAULT_STATE_GROUP "kvm"
#define NETWORK_PREFIX "sriov_pfs."
#define LIBVIRT_USER_MAX 255u
#define NAME_CHARS "A-Z a-z 0-9 _ . : -"

typedef struct KeyDef KeyDef;

/* One value parser: fills its field of @c from @len bytes of @v, or sets @err (the value part only). */
typedef int (*ParseFn)(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                       HpvmError *err);

struct KeyDef {
        const char *name;       /* the key, or the prefix of a family of keys (NETWORK_PREFIX) */
        bool prefix;
        ParseFn parse;
        size_t offset;          /* of the field in HpvmConfig */
        uint64_t min, max;      /* seconds */
        const char *expected;   /* what a good value looks like, for messages */
};

/* ---------------------------------------------------------------- small helpers */

static bool is_blank(char ch)
{
        return ch == ' ' || ch == '\t';
}

static bool is_name_char(char ch)
{
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '.' || ch == ':' || ch == '-';
}

/* 1..@max bytes of [A-Za-z0-9_.:-]. */
static bool name_valid(const char *s, size_t len, size_t max)
{
        if (len == 0 || len > max)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_name_char(s[i]))
                        return false;
        return true;
}

bool hpvm_ifname_valid(const char *s, size_t len)
{
        return s && name_valid(s, len, HPVM_IFNAME_MAX);
}

/* A user or group name as useradd takes it by default: [a-z_][a-z0-9_-]*, at most 32 bytes. */
static bool owner_name_valid(const char *s, size_t len)
{
        if (len == 0 || len > HPVM_CONFIG_OWNER_NAME_MAX)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
                      s[i] == '-'))
                        return false;
        return true;
}

static char **field_str(HpvmConfig *c, const KeyDef *k)
{
        return (char **)(void *)((char *)c + k->offset);
}

static uint64_t *field_u64(HpvmConfig *c, const KeyDef *k)
{
        return (uint64_t *)(void *)((char *)c + k->offset);
}

/* Replace *@field by a copy of @len bytes of @v (NULL for @len 0 when @empty_is_null). */
static int set_str(char **field, const char *v, size_t len, bool empty_is_null, HpvmError *err)
{
        char *copy = NULL;

        if (len > 0 || !empty_is_null) {
                copy = strndup(v, len);
                if (!copy)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        free(*field);
        *field = copy;
        return 0;
}

/* ---------------------------------------------------------------- value parsers */

int hpvm_parse_seconds(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *ret, HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        uint64_t v;
        int r;

        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "empty value");
        r = hpvm_parse_u64(s, len, max, &v);
        if (r == -EINVAL)
                return hpvm_error_set(err, r, "'%s' is not a number of seconds", hpvm_quote(s, len, q, sizeof(q)));
        if (r == 0 && v < min)
                r = -ERANGE;
        if (r < 0)
                return hpvm_error_set(err, r, "'%s' is out of range", hpvm_quote(s, len, q, sizeof(q)));
        *ret = v;
        return 0;
}

static int parse_seconds(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                         HpvmError *err)
{
        return hpvm_parse_seconds(v, len, k->min, k->max, field_u64(c, k), err);
}

static int parse_cpuset(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                        HpvmError *err)
{
        char q[HPVM_QUOTE_MAX], whole[HPVM_QUOTE_MAX + 2];
        HpvmCpuSet set;
        int r;

        if (len == 0) {
                hpvm_cpuset_zero(&c->reserved_cpus);
                c->reserved_cpus_given = true;
                return 0;
        }
        r = hpvm_cpuset_parse(v, len, HPVM_CPUSET_MAX, "CPU", &set, err);
        if (r < 0) {
                /* Quote the whole value first unless the message already starts with it. */
                snprintf(whole, sizeof(whole), "'%s'", hpvm_quote(v, len, q, sizeof(q)));
                if (strncmp(err->msg, whole, strlen(whole)) != 0)
                        hpvm_error_prefix(err, "%s: ", whole);
                return r;
        }
        c->reserved_cpus = set;
        c->reserved_cpus_given = true;
        return 0;
}

static int parse_path(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                      HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        bool optional = strstr(k->expected, "or nothing") != NULL;

        if (len == 0 && optional)
                return set_str(field_str(c, k), v, 0, true, err);
        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "empty value");
        hpvm_quote(v, len, q, sizeof(q));
        if (len > HPVM_CONFIG_PATH_MAX)
                return hpvm_error_set(err, -E2BIG, "'%s' is longer than %u bytes", q, HPVM_CONFIG_PATH_MAX);
        if (v[0] != '/')
                return hpvm_error_set(err, -EINVAL, "'%s' is not an absolute path", q);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
                        return hpvm_error_set(err, -EINVAL, "'%s' holds a control character", q);
        /*
         * "/run/x/" and "/run/x" are one folder: keep the form without the slash (but "/"
         * itself), unless a blank would then end it ("/a /"): a file could not say that.
         */
        while (len > 1 && v[len - 1] == '/')
                len--;
        if (is_blank(v[len - 1]))
                len++;
        return set_str(field_str(c, k), v, len, false, err);
}

/* Printable ASCII without blanks: a URI or a SASL user name ("vdsm@ovirt"). */
static int parse_word(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                      HpvmError *err)
{
        char q[HPVM_QUOTE_MAX];
        bool optional = strstr(k->expected, "or nothing") != NULL;
        size_t max = optional ? LIBVIRT_USER_MAX : HPVM_CONFIG_URI_MAX;

        if (len == 0 && optional)
                return set_str(field_str(c, k), v, 0, true, err);
        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "empty value");
        hpvm_quote(v, len, q, sizeof(q));
        if (len > max)
                return hpvm_error_set(err, -E2BIG, "'%s' is longer than %zu bytes", q, max);
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
                        return hpvm_error_set(err, -EINVAL, "'%s' holds a blank or a byte that is not printable ASCII",
                                              q);
        return set_str(field_str(c, k), v, len, false, err);
}

static int parse_owner(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                       HpvmError *err)
{
        char q[HPVM_QUOTE_MAX], qp[HPVM_QUOTE_MAX];
        const char *colon = memchr(v, ':', len);
        size_t ulen, glen;
        char *user, *group;

        hpvm_quote(v, len, q, sizeof(q));
        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "empty value");
        if (!colon)
                return hpvm_error_set(err, -EINVAL, "'%s' has no ':' between the user and the group", q);
        ulen = (size_t)(colon - v);
        glen = len - ulen - 1;
        if (!owner_name_valid(v, ulen))
                return hpvm_error_set(err, ulen > HPVM_CONFIG_OWNER_NAME_MAX ? -E2BIG : -EINVAL,
                                      "'%s': '%s' is not a user name", q, hpvm_quote(v, ulen, qp, sizeof(qp)));
        if (!owner_name_valid(colon + 1, glen))
                return hpvm_error_set(err, glen > HPVM_CONFIG_OWNER_NAME_MAX ? -E2BIG : -EINVAL,
                                      "'%s': '%s' is not a group name", q,
                                      hpvm_quote(colon + 1, glen, qp, sizeof(qp)));
        user = strndup(v, ulen);
        group = strndup(colon + 1, glen);
        if (!user || !group) {
                free(user);
                free(group);
                return hpvm_error_set(err, -ENOMEM, "out of memory");
        }
        free(c->state_user);
        free(c->state_group);
        c->state_user = user;
        c->state_group = group;
        return 0;
}

static void network_clear(HpvmNetworkPfs *n)
{
        for (size_t i = 0; i < n->npfs; i++)
                free(n->pfs[i]);
        free(n->pfs);
        free(n->network);
        memset(n, 0, sizeof(*n));
}

/* @suffix: the network name, already checked. */
static int parse_pfs(const KeyDef *k, HpvmConfig *c, const char *suffix, const char *v, size_t len,
                     HpvmError *err)
{
        char q[HPVM_QUOTE_MAX], qi[HPVM_QUOTE_MAX];
        HpvmNetworkPfs n = { 0 }, *grown;
        const char *p = v, *end = v + len;
        int r;

        if (len == 0)
                return hpvm_error_set(err, -EINVAL, "empty value");
        hpvm_quote(v, len, q, sizeof(q));
        n.pfs = calloc(HPVM_CONFIG_PFS_MAX, sizeof(*n.pfs));
        if (!n.pfs)
                return hpvm_error_set(err, -ENOMEM, "out of memory");

        for (;;) {
                const char *comma = memchr(p, ',', (size_t)(end - p));
                size_t ilen = (size_t)((comma ? comma : end) - p);

                if (ilen == 0) {
                        if (n.npfs == 0)
                                r = hpvm_error_set(err, -EINVAL, "'%s' starts with ','", q);
                        else if (!comma)
                                r = hpvm_error_set(err, -EINVAL, "'%s' ends with ','", q);
                        else
                                r = hpvm_error_set(err, -EINVAL, "'%s': empty name after '%s'", q,
                                                   n.pfs[n.npfs - 1]);
                        goto fail;
                }
                hpvm_quote(p, ilen, qi, sizeof(qi));
                if (!hpvm_ifname_valid(p, ilen)) {
                        r = ilen > HPVM_IFNAME_MAX ? -E2BIG : -EINVAL;
                        if (ilen == len)
                                hpvm_error_set(err, r, "'%s' is not a netdev name", q);
                        else
                                hpvm_error_set(err, r, "'%s': '%s' is not a netdev name", q, qi);
                        goto fail;
                }
                for (size_t i = 0; i < n.npfs; i++)
                        if (strlen(n.pfs[i]) == ilen && !memcmp(n.pfs[i], p, ilen)) {
                                r = hpvm_error_set(err, -EINVAL, "'%s': '%s' is listed twice", q, qi);
                                goto fail;
                        }
                if (n.npfs >= HPVM_CONFIG_PFS_MAX) {
                        r = hpvm_error_set(err, -E2BIG, "'%s': more than %u names", q, HPVM_CONFIG_PFS_MAX);
                        goto fail;
                }
                n.pfs[n.npfs] = strndup(p, ilen);
                if (!n.pfs[n.npfs]) {
                        r = hpvm_error_set(err, -ENOMEM, "out of memory");
                        goto fail;
                }
                n.npfs++;
                if (!comma)
                        break;
                p = comma + 1;
        }

        n.network = strdup(suffix);
        grown = reallocarray(c->networks, c->nnetworks + 1, sizeof(*c->networks));
        if (!n.network || !grown) {
                if (grown)
                        c->networks = grown;
                r = hpvm_error_set(err, -ENOMEM, "out of memory");
                goto fail;
        }
        c->networks = grown;
        c->networks[c->nnetworks++] = n;
        return 0;

fail:
        network_clear(&n);
        return r;
}

/* ---------------------------------------------------------------- the table */

#define OFF(field) offsetof(HpvmConfig, field)

static const KeyDef keys[] = {
        { "reserved_cpus", false, parse_cpuset, 0, 0, 0, "a cpuset like 0-3,8, or nothing" },
        { "state_dir", false, parse_path, OFF(state_dir), 0, 0, "an absolute path" },
        { "sysfs_root", false, parse_path, OFF(sysfs_root), 0, 0, "an absolute path" },
        { "ledger_grace", false, parse_seconds, OFF(ledger_grace), 0, 86400, "seconds, 0-86400" },
        { "migration_reservation_timeout", false, parse_seconds, OFF(migration_reservation_timeout), 1, 86400,
          "seconds, 1-86400" },
        { "vf_reservation_timeout", false, parse_seconds, OFF(vf_reservation_timeout), 1, 86400,
          "seconds, 1-86400" },
        { NETWORK_PREFIX, true, parse_pfs, 0, 0, 0,
          "PF netdev names like ens1f0,ens1f1, each 1-15 of " NAME_CHARS },
        { "libvirt_uri", false, parse_word, OFF(libvirt_uri), 0, 0, "a libvirt URI like qemu:///system" },
        { "libvirt_user", false, parse_word, OFF(libvirt_user), 0, 0, "a user name like vdsm@ovirt, or nothing" },
        { "libvirt_password_file", false, parse_path, OFF(libvirt_password_file), 0, 0,
          "an absolute path, or nothing" },
        { "unplug_timeout", false, parse_seconds, OFF(unplug_timeout), 1, 3600, "seconds, 1-3600" },
        { "watch_timeout", false, parse_seconds, OFF(watch_timeout), 10, 86400, "seconds, 10-86400" },
        { "migration_start_timeout", false, parse_seconds, OFF(migration_start_timeout), 1, 3600,
          "seconds, 1-3600" },
        { "state_owner", false, parse_owner, 0, 0, 0, "<user>:<group> like vdsm:kvm" },
};

/* "reserved_cpus, state_dir, ..., sriov_pfs.<network>, ...": every key, for the unknown-key message. */
static const char *key_list(char *buf, size_t size)
{
        size_t off = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(keys) && off < size; i++) {
                int n = snprintf(buf + off, size - off, "%s%s%s", i ? ", " : "", keys[i].name,
                                 keys[i].prefix ? "<network>" : "");

                if (n < 0)
                        break;
                off += (size_t)n;
        }
        return buf;
}

/* ---------------------------------------------------------------- object */

void hpvm_config_free(HpvmConfig *c)
{
        if (!c)
                return;
        for (size_t i = 0; i < c->nnetworks; i++)
                network_clear(&c->networks[i]);
        free(c->networks);
        free(c->path);
        free(c->state_dir);
        free(c->sysfs_root);
        free(c->libvirt_uri);
        free(c->libvirt_user);
        free(c->libvirt_password_file);
        free(c->state_user);
        free(c->state_group);
        free(c);
}

static HpvmConfig *config_new(const char *path)
{
        HpvmConfig *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->path = strdup(path);
        c->state_dir = strdup(DEFAULT_STATE_DIR);
        c->sysfs_root = strdup(DEFAULT_SYSFS_ROOT);
        c->libvirt_uri = strdup(DEFAULT_LIBVIRT_URI);
        c->state_user = strdup(DEFAULT_STATE_USER);
        c->state_group = strdup(DEFAULT_STATE_GROUP);
        c->ledger_grace = 120;
        c->migration_reservation_timeout = 600;
        c->vf_reservation_timeout = 1800;
        c->unplug_timeout = 30;
        c->watch_timeout = 1800;
        c->migration_start_timeout = 300;
        if (!c->path || !c->state_dir || !c->sysfs_root || !c->libvirt_uri || !c->state_user || !c->state_group) {
                hpvm_config_free(c);
                return NULL;
        }
        return c;
}

int hpvm_config_new(HpvmConfig **ret)
{
        HpvmConfig *c = config_new(HPVM_CONFIG_DEFAULT);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

const char *hpvm_config_path(const char *option, bool *ret_explicit)
{
        const char *env = getenv(HPVM_CONFIG_ENV);
        const char *path = HPVM_CONFIG_DEFAULT;
        bool named = true;

        if (option)
                path = option;
        else if (env && *env)
                path = env;
        else
                named = false;
        if (ret_explicit)
                *ret_explicit = named;
        return path;
}

/* ---------------------------------------------------------------- parsing */

typedef struct Parser {
        HpvmConfig *c;
        const char *path;
        size_t line;
        unsigned seen[HPVM_ARRAY_SIZE(keys)];   /* line of each fixed key, 0 = not yet */
        unsigned *network_line;                 /* line of each sriov_pfs key, by c->networks index */
        HpvmError *err;
} Parser;

static void trim(const char **s, size_t *len)
{
        while (*len > 0 && is_blank(**s)) {
                (*s)++;
                (*len)--;
        }
        while (*len > 0 && is_blank((*s)[*len - 1]))
                (*len)--;
}

/* Which table entry takes @key; NULL if none. */
static const KeyDef *find_key(const char *key, size_t klen, size_t *ret_index)
{
        for (size_t i = 0; i < HPVM_ARRAY_SIZE(keys); i++) {
                size_t nlen = strlen(keys[i].name);

                if (keys[i].prefix ? klen >= nlen && !memcmp(key, keys[i].name, nlen)
                                   : klen == nlen && !memcmp(key, keys[i].name, nlen)) {
                        *ret_index = i;
                        return &keys[i];
                }
        }
        return NULL;
}

static int setting(Parser *ps, const char *key, size_t klen, const char *v, size_t vlen)
{
        char q[HPVM_QUOTE_MAX], qn[HPVM_QUOTE_MAX], list[HPVM_ERR_MAX];
        char name[sizeof(NETWORK_PREFIX) + HPVM_CONFIG_NETWORK_NAME_MAX];
        const char *suffix = NULL;
        const KeyDef *k;
        size_t idx;
        int r;

        hpvm_quote(key, klen, q, sizeof(q));
        k = find_key(key, klen, &idx);
        if (!k)
                return hpvm_error_set(ps->err, -EINVAL, "%s:%zu: '%s' is not a key (expected one of %s)", ps->path,
                                      ps->line, q, key_list(list, sizeof(list)));

        if (k->prefix) {
                size_t plen = strlen(k->name), nlen = klen - plen;

                if (!name_valid(key + plen, nlen, HPVM_CONFIG_NETWORK_NAME_MAX))
                        return hpvm_error_set(ps->err, nlen > HPVM_CONFIG_NETWORK_NAME_MAX ? -E2BIG : -EINVAL,
                                              "%s:%zu: '%s': '%s' is not a network name (expected %s<network>, "
                                              "the network 1-%u of " NAME_CHARS ")",
                                              ps->path, ps->line, q, hpvm_quote(key + plen, nlen, qn, sizeof(qn)),
                                              k->name, HPVM_CONFIG_NETWORK_NAME_MAX);
                memcpy(name, key, klen);
                name[klen] = '\0';
                suffix = name + plen;
                for (size_t i = 0; i < ps->c->nnetworks; i++)
                        if (!strcmp(ps->c->networks[i].network, suffix))
                                return hpvm_error_set(ps->err, -EINVAL,
                                                      "%s:%zu: %s: already set on line %u (expected each key once)",
                                                      ps->path, ps->line, name, ps->network_line[i]);
                if (ps->c->nnetworks >= HPVM_CONFIG_NETWORKS_MAX)
                        return hpvm_error_set(ps->err, -E2BIG,
                                              "%s:%zu: %s: one sriov_pfs key too many (expected at most %u)", ps->path,
                                              ps->line, name, HPVM_CONFIG_NETWORKS_MAX);
        } else if (ps->seen[idx]) {
                return hpvm_error_set(ps->err, -EINVAL, "%s:%zu: %s: already set on line %u (expected each key once)",
                                      ps->path, ps->line, k->name, ps->seen[idx]);
        }

        r = k->parse(k, ps->c, suffix, v, vlen, ps->err);
        if (r < 0) {
                if (r == -ENOMEM)
                        return r;
                hpvm_error_prefix(ps->err, "%s:%zu: %.*s: ", ps->path, ps->line, (int)klen, key);
                hpvm_error_append(ps->err, " (expected %s)", k->expected);
                return r;
        }
        if (k->prefix)
                ps->network_line[ps->c->nnetworks - 1] = (unsigned)ps->line;
        else
                ps->seen[idx] = (unsigned)ps->line;
        return 0;
}

static int parse_line(Parser *ps, const char *s, size_t len)
{
        char q[HPVM_QUOTE_MAX];
        const char *eq, *key, *v;
        size_t klen, vlen;

        if (len > 0 && s[len - 1] == '\r')
                len--;
        for (size_t i = 0; i < len; i++)
                if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
                        len = i;
                        break;
                }
        trim(&s, &len);
        if (len == 0)
                return 0;

        eq = memchr(s, '=', len);
        if (!eq)
                return hpvm_error_set(ps->err, -EINVAL,
                                      "%s:%zu: '%s' is not a setting (expected key=value or a # comment)", ps->path,
                                      ps->line, hpvm_quote(s, len, q, sizeof(q)));
        key = s;
        klen = (size_t)(eq - s);
        v = eq + 1;
        vlen = len - klen - 1;
        trim(&key, &klen);
        trim(&v, &vlen);
        if (klen == 0)
                return hpvm_error_set(ps->err, -EINVAL, "%s:%zu: '%s' has no key before '=' (expected key=value)",
                                      ps->path, ps->line, hpvm_quote(s, len, q, sizeof(q)));
        return setting(ps, key, klen, v, vlen);
}

int hpvm_config_parse(const char *path, const char *text, size_t len, HpvmConfig **ret, HpvmError *err)
{
        Parser ps = { .path = path, .err = err };
        const char *p = text, *end = text + len;
        HpvmError dummy = { 0 };
        int r = 0;

        if (!err)
                ps.err = &dummy;        /* messages are assembled in place */
        if (!path || (!text && len > 0))
                return hpvm_error_set(err, -EINVAL, "no configuration text or name given");
        if (len > HPVM_CONFIG_FILE_MAX)
                return hpvm_error_set(err, -EFBIG, "%s is %zu bytes (at most %u)", path, len, HPVM_CONFIG_FILE_MAX);
        ps.c = config_new(path);
        ps.network_line = calloc(HPVM_CONFIG_NETWORKS_MAX, sizeof(*ps.network_line));
        if (!ps.c || !ps.network_line) {
                r = hpvm_error_set(err, -ENOMEM, "out of memory reading %s", path);
                goto out;
        }
        ps.c->file_found = true;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t llen = (size_t)((nl ? nl : end) - p);
                size_t body = llen > 0 && p[llen - 1] == '\r' ? llen - 1 : llen;
                const char *nul = memchr(p, '\0', llen);

                ps.line++;
                if (nul) {
                        r = hpvm_error_set(ps.err, -EINVAL, "%s:%zu: NUL byte at column %zu (expected text)", path,
                                           ps.line, (size_t)(nul - p) + 1);
                        goto out;
                }
                if (body > HPVM_CONFIG_LINE_MAX) {
                        r = hpvm_error_set(ps.err, -E2BIG, "%s:%zu: line longer than %u bytes", path, ps.line,
                                           HPVM_CONFIG_LINE_MAX);
                        goto out;
                }
                r = parse_line(&ps, p, llen);
                if (r < 0) {
                        if (r == -ENOMEM)
                                hpvm_error_set(ps.err, r, "out of memory reading %s", path);
                        goto out;
                }
                if (!nl)
                        break;
                p = nl + 1;
        }

        *ret = ps.c;
        ps.c = NULL;
out:
        hpvm_config_free(ps.c);
        free(ps.network_line);
        return r;
}

int hpvm_config_load(const char *path, bool must_exist, HpvmConfig **ret, HpvmError *err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        if (!path || !*path)
                return hpvm_error_set(err, -EINVAL, "no configuration file named");
        r = hpvm_file_read(path, HPVM_CONFIG_FILE_MAX, &text, &len, err);
        if (r == -ENOENT && !must_exist) {
                HpvmConfig *c = config_new(path);

                if (!c)
                        return hpvm_error_set(err, -ENOMEM, "out of memory");
                *ret = c;
                return 0;
        }
        if (r < 0)
                return r;
        return hpvm_config_parse(path, text, len, ret, err);
}

/* ---------------------------------------------------------------- lookups */

bool hpvm_config_has_network_pfs(const HpvmConfig *c)
{
        return c && c->nnetworks > 0;
}

int hpvm_config_network_pfs(const HpvmConfig *c, const char *network, const char *const **ret_pfs, size_t *ret_n)
{
        if (!c || !network)
                return -EINVAL;
        if (c->nnetworks == 0)
                return HPVM_CONFIG_PFS_ANY;
        for (size_t i = 0; i < c->nnetworks; i++)
                if (!strcmp(c->networks[i].network, network)) {
                        *ret_pfs = (const char *const *)c->networks[i].pfs;
                        *ret_n = c->networks[i].npfs;
                        return HPVM_CONFIG_PFS_LISTED;
                }
        return -ENOENT;
}

void hpvm_config_state_owner(const HpvmConfig *c, long *ret_uid, long *ret_gid)
{
        *ret_uid = c && c->state_user ? hpvm_user_id(c->state_user) : -1;
        *ret_gid = c && c->state_group ? hpvm_group_id(c->state_group) : -1;
}
