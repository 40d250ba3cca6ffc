/* SPDX-License-Identifier: MIT */
/*
 * share.c - an unseal share as text: its index, its bytes and a check value bound to the key
 * store's UUID, so that a mistyped share or one of another store is refused at once instead
 * of silently producing a wrong master key.
 */
#include "kmsd_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CHECK_LABEL "envcryptfs-kmsd share 1"
#define CHECK_SIZE  4

/* First CHECK_SIZE bytes of SHA-256(label || uuid || index || y). */
static void share_check(const uint8_t uuid[ECFS_UUID_SIZE], const struct kmsd_share *s,
			uint8_t out[CHECK_SIZE])
{
	uint8_t buf[sizeof(CHECK_LABEL) - 1 + ECFS_UUID_SIZE + 1 + KMSD_SECRET_SIZE], h[32];
	size_t n = sizeof(CHECK_LABEL) - 1;

	memcpy(buf, CHECK_LABEL, n);
	memcpy(buf + n, uuid, ECFS_UUID_SIZE);
	buf[n + ECFS_UUID_SIZE] = s->index;
	memcpy(buf + n + ECFS_UUID_SIZE + 1, s->y, KMSD_SECRET_SIZE);
	ecfs_sha256(buf, sizeof(buf), h);
	memcpy(out, h, CHECK_SIZE);
	ecfs_wipe(buf, sizeof(buf));
	ecfs_wipe(h, sizeof(h));
}

void kmsd_share_encode(const uint8_t uuid[ECFS_UUID_SIZE], const struct kmsd_share *s, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[KMSD_SHARE_BYTES];

	raw[0] = s->index;
	memcpy(raw + 1, s->y, KMSD_SECRET_SIZE);
	share_check(uuid, s, raw + 1 + KMSD_SECRET_SIZE);
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[KMSD_SHARE_HEX] = '\0';
	ecfs_wipe(raw, sizeof(raw));
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int from_hex(const char *text, uint8_t raw[KMSD_SHARE_BYTES])
{
	for (size_t i = 0; i < KMSD_SHARE_BYTES; i++) {
		int hi = hex_val(text[2 * i]), lo = hex_val(text[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		raw[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

int kmsd_share_decode(const uint8_t uuid[ECFS_UUID_SIZE], const char *text, size_t len,
		      struct kmsd_share *s)
{
	uint8_t raw[KMSD_SHARE_BYTES + 3], check[CHECK_SIZE];
	int r = -EINVAL;

	while (len && is_space(text[0]))
		text++, len--;
	while (len && is_space(text[len - 1]))
		len--;
	if (len == KMSD_SHARE_HEX)
		r = from_hex(text, raw);
	else if (len == (KMSD_SHARE_BYTES + 2) / 3 * 4)
		r = ecfs_b64_decode(text, len, raw, sizeof(raw)) == KMSD_SHARE_BYTES ? 0 : -EINVAL;
	if (r == 0 && raw[0] == 0)
		r = -EINVAL;
	if (r < 0) {
		ecfs_wipe(raw, sizeof(raw));
		return ecfs_fail(-EINVAL,
				 "not an unseal share: expected %d hex digits or %d "
				 "base64 characters",
				 KMSD_SHARE_HEX, (KMSD_SHARE_BYTES + 2) / 3 * 4);
	}
	s->index = raw[0];
	memcpy(s->y, raw + 1, KMSD_SECRET_SIZE);
	share_check(uuid, s, check);
	if (ecfs_memcmp_ct(check, raw + 1 + KMSD_SECRET_SIZE, CHECK_SIZE) != 0)
		r = ecfs_fail(-EBADMSG, "the unseal share fails its check: it is mistyped or "
					"belongs to another key store");
	ecfs_wipe(raw, sizeof(raw));
	if (r < 0)
		ecfs_wipe(s, sizeof(*s));
	return r;
}

int kmsd_share_write_file(const char *path, const uint8_t uuid[ECFS_UUID_SIZE],
			  const struct kmsd_share *s, unsigned n, unsigned t)
{
	struct ecfs_secret *text = ecfs_secret_new(1024);
	char id[37], hex[KMSD_SHARE_HEX + 1];
	int fd, len, r;

	if (!text)
		return ecfs_fail(-ENOMEM, "out of memory");
	kmsd_uuid_str(uuid, id);
	kmsd_share_encode(uuid, s, hex);
	len = snprintf((char *)ecfs_secret_data(text), ecfs_secret_len(text),
		       "# envcryptfs-kmsd unseal share %u of %u (any %u unseal) for key store %s\n"
		       "# Keep each share with a different custodian. Unseal with\n"
		       "#   envcryptfs-kmsd serve ... --unseal-share FILE, or\n"
		       "#   PUT /v1/sys/unseal {\"key\": \"<the line below>\"}\n"
		       "%s\n",
		       s->index, n, t, id, hex);
	ecfs_wipe(hex, sizeof(hex));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = ecfs_fail(-errno, "cannot create share file '%s': %s", path, strerror(errno));
	} else {
		r = ecfs_write_full(fd, ecfs_secret_data(text), (size_t)len);
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		close(fd);
		if (r < 0)
			r = ecfs_fail(r, "cannot write share file '%s': %s", path, strerror(-r));
	}
	ecfs_secret_free(text);
	return r;
}

int kmsd_share_read_file(const char *path, struct ecfs_secret **out)
{
	struct ecfs_secret *file, *line = NULL;
	const char *p, *end, *eol;
	int r = ecfs_secret_read_file(path, 1, 4096, &file, NULL);

	if (r < 0)
		return ecfs_fail(r, "cannot read unseal share: %s", ecfs_last_error());
	p = (const char *)ecfs_secret_data(file);
	end = p + ecfs_secret_len(file);
	while (p < end && !line && r == 0) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		while (p < eol && is_space(*p))
			p++;
		if (p < eol && *p != '#') {
			line = ecfs_secret_new((size_t)(eol - p));
			if (line)
				memcpy(ecfs_secret_data(line), p, (size_t)(eol - p));
			else
				r = -ENOMEM;
		}
		p = eol < end ? eol + 1 : end;
	}
	ecfs_secret_free(file);
	if (r < 0)
		return ecfs_fail(r, "out of memory");
	if (!line)
		return ecfs_fail(-EINVAL, "share file '%s' holds no share", path);
	*out = line;
	return 0;
}
