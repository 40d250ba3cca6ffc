/* SPDX-License-Identifier: MIT */
/* json.c - strict JSON validation with in-place lookup, and a writer into locked memory. */
#include "kms_json.h"
#include "ecfs_util.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The writer refuses to grow past this; no message we build comes near it. */
#define KMS_JW_MAX (4u << 20)

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Four hex digits at p (bounded by end) into *out. */
static int hex4(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: shortest form, no surrogates,
 * at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], cp, min;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* An escape; c->p is at the backslash. A \u escape of a high surrogate must be followed by
 * one of a low surrogate, so that every accepted string decodes to valid UTF-8. */
static int scan_escape(struct cursor *c)
{
	unsigned hi, lo;

	if (c->end - c->p < 2)
		return -1;
	c->p++;
	if (strchr("\"\\/bfnrt", *c->p) && *c->p) {
		c->p++;
		return 0;
	}
	if (*c->p != 'u' || hex4(c->p + 1, c->end, &hi) < 0)
		return -1;
	c->p += 5;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return -1;
	if (hi < 0xd800 || hi > 0xdbff)
		return 0;
	if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' ||
	    hex4(c->p + 2, c->end, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
		return -1;
	c->p += 6;
	return 0;
}

/* A string; c->p is at the opening quote. */
static int scan_string(struct cursor *c, struct kms_json *v)
{
	const char *start = ++c->p;

	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p;
		size_t n;

		if (ch == '"') {
			*v = (struct kms_json){KMS_JSON_STRING, start, (size_t)(c->p - start)};
			c->p++;
			return 0;
		}
		if (ch < 0x20)
			return -1;
		if (ch == '\\') {
			if (scan_escape(c) < 0)
				return -1;
			continue;
		}
		n = utf8_len((const unsigned char *)c->p, (const unsigned char *)c->end);
		if (n == 0)
			return -1;
		c->p += n;
	}
	return -1;
}

static void skip_digits(struct cursor *c)
{
	while (c->p < c->end && is_digit(*c->p))
		c->p++;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct cursor *c, struct kms_json *v)
{
	const char *start = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end || !is_digit(*c->p))
		return -1;
	if (*c->p == '0')
		c->p++;
	else
		skip_digits(c);
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return -1;
		skip_digits(c);
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || !is_digit(*c->p))
			return -1;
		skip_digits(c);
	}
	*v = (struct kms_json){KMS_JSON_NUMBER, start, (size_t)(c->p - start)};
	return 0;
}

static int scan_literal(struct cursor *c, const char *word, enum kms_json_type t,
			struct kms_json *v)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return -1;
	*v = (struct kms_json){t, c->p, n};
	c->p += n;
	return 0;
}

static int scan_value(struct cursor *c, unsigned depth, struct kms_json *v);

/* "name" ws ':' ws, for an object member; c->p is at the name. */
static int scan_member_name(struct cursor *c, struct kms_json *name)
{
	if (c->p >= c->end || *c->p != '"' || scan_string(c, name) < 0)
		return -1;
	skip_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return -1;
	c->p++;
	skip_ws(c);
	return 0;
}

/* An object or array; c->p is at the opening bracket. */
static int scan_container(struct cursor *c, unsigned depth, struct kms_json *v)
{
	const char *start = c->p;
	bool obj = *c->p == '{';
	char close = obj ? '}' : ']';
	struct kms_json item;

	if (depth >= KMS_JSON_MAX_DEPTH)
		return -1;
	c->p++;
	skip_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		goto done;
	}
	for (;;) {
		if (obj && scan_member_name(c, &item) < 0)
			return -1;
		if (scan_value(c, depth + 1, &item) < 0)
			return -1;
		skip_ws(c);
		if (c->p >= c->end)
			return -1;
		if (*c->p++ == close)
			break;
		if (c->p[-1] != ',')
			return -1;
		skip_ws(c);
	}
done:
	*v = (struct kms_json){obj ? KMS_JSON_OBJECT : KMS_JSON_ARRAY, start,
			       (size_t)(c->p - start)};
	return 0;
}

static int scan_value(struct cursor *c, unsigned depth, struct kms_json *v)
{
	if (c->p >= c->end)
		return -1;
	switch (*c->p) {
	case '"':
		return scan_string(c, v);
	case '{':
	case '[':
		return scan_container(c, depth, v);
	case 't':
		return scan_literal(c, "true", KMS_JSON_BOOL, v);
	case 'f':
		return scan_literal(c, "false", KMS_JSON_BOOL, v);
	case 'n':
		return scan_literal(c, "null", KMS_JSON_NULL, v);
	default:
		return scan_number(c, v);
	}
}

int kms_json_parse(const char *text, size_t len, struct kms_json *root)
{
	struct cursor c = {text, text + len};

	if (!text)
		return -EBADMSG;
	skip_ws(&c);
	if (scan_value(&c, 0, root) < 0)
		return -EBADMSG;
	skip_ws(&c);
	return c.p == c.end ? 0 : -EBADMSG;
}

int kms_json_next(const struct kms_json *v, size_t *pos, struct kms_json *name,
		  struct kms_json *out)
{
	struct cursor c;
	struct kms_json key = {0};
	bool obj;

	if (!v || (v->type != KMS_JSON_OBJECT && v->type != KMS_JSON_ARRAY) || *pos >= v->len)
		return -EBADMSG;
	obj = v->type == KMS_JSON_OBJECT;
	c = (struct cursor){v->p + (*pos ? *pos : 1), v->p + v->len};
	skip_ws(&c);
	if (c.p >= c.end)
		return -EBADMSG;
	if (*c.p == (obj ? '}' : ']'))
		return 0;
	/* The text was validated at a depth of at least 1, so rescanning from here at depth 1
	 * cannot hit the limit; any failure still means a malformed text. */
	if ((obj && scan_member_name(&c, &key) < 0) || scan_value(&c, 1, out) < 0)
		return -EBADMSG;
	skip_ws(&c);
	if (c.p < c.end && *c.p == ',')
		c.p++;
	*pos = (size_t)(c.p - v->p);
	if (name)
		*name = key;
	return 1;
}

int kms_json_get(const struct kms_json *obj, const char *key, struct kms_json *out)
{
	struct kms_json name, val;
	size_t pos = 0;
	int found = 0, r;

	if (!obj || obj->type != KMS_JSON_OBJECT)
		return -EBADMSG;
	while ((r = kms_json_next(obj, &pos, &name, &val)) == 1) {
		if (!kms_json_string_eq(&name, key))
			continue;
		if (found++)
			return -EBADMSG;
		*out = val;
	}
	if (r < 0)
		return r;
	return found ? 0 : -ENOENT;
}

static void put_byte(char *out, size_t outsz, size_t *n, unsigned char b)
{
	if (out && *n < outsz)
		out[*n] = (char)b;
	(*n)++;
}

/* Appends code point cp as UTF-8. */
static void put_utf8(char *out, size_t outsz, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		put_byte(out, outsz, n, (unsigned char)cp);
	} else if (cp < 0x800) {
		put_byte(out, outsz, n, (unsigned char)(0xc0 | cp >> 6));
		put_byte(out, outsz, n, (unsigned char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put_byte(out, outsz, n, (unsigned char)(0xe0 | cp >> 12));
		put_byte(out, outsz, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put_byte(out, outsz, n, (unsigned char)(0x80 | (cp & 0x3f)));
	} else {
		put_byte(out, outsz, n, (unsigned char)(0xf0 | cp >> 18));
		put_byte(out, outsz, n, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
		put_byte(out, outsz, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
		put_byte(out, outsz, n, (unsigned char)(0x80 | (cp & 0x3f)));
	}
}

static char simple_escape(char ch)
{
	switch (ch) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return ch; /* '"', '\\', '/' */
	}
}

/* Decodes a validated string's raw text; writes at most outsz bytes to out (when not NULL)
 * and returns the full decoded length. */
static size_t decode(const char *p, size_t len, char *out, size_t outsz)
{
	const char *end = p + len;
	size_t n = 0;
	unsigned cp, lo;

	while (p < end) {
		if (*p != '\\') {
			put_byte(out, outsz, &n, (unsigned char)*p++);
			continue;
		}
		if (end - p < 2)
			break; /* cannot happen after validation */
		if (p[1] != 'u') {
			put_byte(out, outsz, &n, (unsigned char)simple_escape(p[1]));
			p += 2;
			continue;
		}
		if (hex4(p + 2, end, &cp) < 0)
			break;
		p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff && hex4(p + 2, end, &lo) == 0) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		put_utf8(out, outsz, &n, cp);
	}
	return n;
}

int kms_json_string_len(const struct kms_json *v, size_t *len)
{
	if (!v || v->type != KMS_JSON_STRING)
		return -EBADMSG;
	*len = decode(v->p, v->len, NULL, 0);
	return 0;
}

int kms_json_string(const struct kms_json *v, char *out, size_t outsz)
{
	size_t n;

	if (!v || v->type != KMS_JSON_STRING)
		return -EBADMSG;
	n = decode(v->p, v->len, out, outsz);
	if (n >= outsz || n > INT_MAX) {
		ecfs_wipe(out, outsz);
		return -ENOSPC;
	}
	out[n] = '\0';
	return (int)n;
}

int kms_json_string_trunc(const struct kms_json *v, char *out, size_t outsz)
{
	size_t n;

	if (!v || v->type != KMS_JSON_STRING || outsz == 0)
		return -EBADMSG;
	n = decode(v->p, v->len, out, outsz - 1);
	out[n < outsz - 1 ? n : outsz - 1] = '\0';
	return 0;
}

bool kms_json_string_eq(const struct kms_json *v, const char *s)
{
	char buf[128];
	size_t want = strlen(s), n;

	if (!v || v->type != KMS_JSON_STRING || want >= sizeof(buf))
		return false;
	/* Names are compared decoded, so "d\u0061ta" is "data", as any JSON reader sees it. */
	n = decode(v->p, v->len, buf, sizeof(buf));
	return n == want && memcmp(buf, s, n) == 0;
}

/* Decimal digits only, 1 to 20 of them, into *out without overflow. */
static int parse_digits(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return -EBADMSG;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

int kms_json_u64(const struct kms_json *v, bool weak, uint64_t *out)
{
	if (!v)
		return -EBADMSG;
	if (v->type == KMS_JSON_NUMBER || (weak && v->type == KMS_JSON_STRING))
		return parse_digits(v->p, v->len, out);
	return -EBADMSG;
}

int kms_json_bool(const struct kms_json *v, bool weak, bool *out)
{
	if (!v)
		return -EBADMSG;
	if (v->type == KMS_JSON_BOOL) {
		*out = v->p[0] == 't';
		return 0;
	}
	if (weak && v->type == KMS_JSON_STRING && (v->len == 4 || v->len == 5) &&
	    (memcmp(v->p, "true", v->len) == 0 || memcmp(v->p, "false", v->len) == 0)) {
		*out = v->len == 4;
		return 0;
	}
	return -EBADMSG;
}

/* ---- writer ----------------------------------------------------------------------------- */

void kms_jw_init(struct kms_jw *w)
{
	memset(w, 0, sizeof(*w));
}

void kms_jw_free(struct kms_jw *w)
{
	ecfs_secret_free(w->buf);
	memset(w, 0, sizeof(*w));
}

/* Room for n more bytes. Growing copies into a new locked buffer and wipes the old one, so
 * no copy of the text is left behind in freed memory. */
static bool reserve(struct kms_jw *w, size_t n)
{
	size_t cap = w->buf ? ecfs_secret_len(w->buf) : 0, want;
	struct ecfs_secret *nb;

	if (w->err)
		return false;
	if (n > KMS_JW_MAX - w->len) {
		w->err = -E2BIG;
		return false;
	}
	if (w->len + n <= cap)
		return true;
	for (want = cap ? cap * 2 : 1024; want < w->len + n; want *= 2)
		;
	nb = ecfs_secret_new(want);
	if (!nb) {
		w->err = -ENOMEM;
		return false;
	}
	if (w->len)
		memcpy(ecfs_secret_data(nb), ecfs_secret_data(w->buf), w->len);
	ecfs_secret_free(w->buf);
	w->buf = nb;
	return true;
}

static void put_raw(struct kms_jw *w, const char *s, size_t n)
{
	if (reserve(w, n)) {
		memcpy(ecfs_secret_data(w->buf) + w->len, s, n);
		w->len += n;
	}
}

static void put_quoted(struct kms_jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	put_raw(w, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

		if (ch == '"' || ch == '\\') {
			esc[1] = (char)ch;
			put_raw(w, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			put_raw(w, esc, 6);
		} else {
			put_raw(w, (const char *)&ch, 1);
		}
	}
	put_raw(w, "\"", 1);
}

/* The comma before a value and its member name. */
static void begin_value(struct kms_jw *w, const char *key)
{
	if (w->need_comma[w->depth])
		put_raw(w, ",", 1);
	w->need_comma[w->depth] = true;
	if (key) {
		put_quoted(w, key, strlen(key));
		put_raw(w, ":", 1);
	}
}

static void open_level(struct kms_jw *w, const char *key, char open, char close)
{
	begin_value(w, key);
	if (w->depth >= KMS_JSON_MAX_DEPTH) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_raw(w, &open, 1);
	w->depth++;
	w->need_comma[w->depth] = false;
	w->closer[w->depth] = close;
}

void kms_jw_object(struct kms_jw *w, const char *key)
{
	open_level(w, key, '{', '}');
}

void kms_jw_array(struct kms_jw *w, const char *key)
{
	open_level(w, key, '[', ']');
}

void kms_jw_end(struct kms_jw *w)
{
	if (w->depth == 0) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	put_raw(w, &w->closer[w->depth], 1);
	w->depth--;
}

void kms_jw_string(struct kms_jw *w, const char *key, const char *s, size_t len)
{
	begin_value(w, key);
	put_quoted(w, s, len);
}

void kms_jw_cstring(struct kms_jw *w, const char *key, const char *s)
{
	kms_jw_string(w, key, s, strlen(s));
}

void kms_jw_u64(struct kms_jw *w, const char *key, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);

	begin_value(w, key);
	put_raw(w, num, (size_t)n);
}

void kms_jw_i64(struct kms_jw *w, const char *key, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	begin_value(w, key);
	put_raw(w, num, (size_t)n);
}

void kms_jw_bool(struct kms_jw *w, const char *key, bool v)
{
	begin_value(w, key);
	put_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void kms_jw_null(struct kms_jw *w, const char *key)
{
	begin_value(w, key);
	put_raw(w, "null", 4);
}

void kms_jw_raw(struct kms_jw *w, const char *key, const char *json, size_t len)
{
	begin_value(w, key);
	put_raw(w, json, len);
}

void kms_jw_base64(struct kms_jw *w, const char *key, const uint8_t *bytes, size_t len)
{
	size_t enc = (len + 2) / 3 * 4;

	if (len > KMS_JW_MAX) {
		if (!w->err)
			w->err = -E2BIG;
		return;
	}
	begin_value(w, key);
	put_raw(w, "\"", 1);
	/* +1: ecfs_b64_encode writes a NUL, which the closing quote then overwrites. */
	if (!reserve(w, enc + 1))
		return;
	w->len += ecfs_b64_encode(bytes, len, (char *)ecfs_secret_data(w->buf) + w->len);
	put_raw(w, "\"", 1);
}

int kms_jw_finish(struct kms_jw *w, const char **text, size_t *len)
{
	if (!w->err && w->depth != 0)
		w->err = -EINVAL;
	if (reserve(w, 1))
		ecfs_secret_data(w->buf)[w->len] = '\0';
	if (w->err)
		return w->err;
	*text = (const char *)ecfs_secret_data(w->buf);
	*len = w->len;
	return 0;
}
