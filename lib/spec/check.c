#include <string.h>

#include "spec/check.h"

static int
lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static int
upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int
digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
hex(int c)
{
	return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* s is first followed by up to max-1 of rest; any chars in extra too. */
static int
word(const char *s, int (*first)(int), int (*rest)(int), const char *extra,
    size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max || !first((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!rest((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

static int
lower_digit(int c)
{
	return lower(c) || digit(c);
}

static int
lower_under(int c)
{
	return lower(c) || c == '_';
}

static int
alnum(int c)
{
	return lower(c) || upper(c) || digit(c);
}

static int
alpha(int c)
{
	return lower(c) || upper(c);
}

static int
upper_under(int c)
{
	return upper(c) || c == '_';
}

static int
upper_digit(int c)
{
	return upper(c) || digit(c);
}

static int
lower_digit_under(int c)
{
	return lower_digit(c) || c == '_';
}

int
hl_check_ident(const char *s)
{
	return word(s, lower_digit, lower_digit, "_-", 63);
}

int
hl_check_user(const char *s)
{
	return word(s, lower_under, lower_digit, "_-", 32);
}

int
hl_check_label(const char *s)
{
	size_t n = strlen(s);

	return word(s, alnum, alnum, "-", 63) && s[n - 1] != '-';
}

int
hl_check_hostname(const char *s)
{
	char label[64];
	const char *p = s, *dot;

	if (strlen(s) > 253)
		return 0;
	for (;;) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n > 63)
			return 0;
		memcpy(label, p, n);
		label[n] = '\0';
		if (!hl_check_label(label))
			return 0;
		/*
		 * The last label is never all digits (RFC 3696 2), so
		 * "256.1.1.1" and "1.2.3" are not names pretending to be
		 * addresses.
		 */
		if (dot == NULL)
			return strspn(label, "0123456789") != n;
		p = dot + 1;
	}
}

int
hl_check_pve_tag(const char *s)
{
	return word(s, lower_digit_under, lower_digit_under, "+.-", 255);
}

int
hl_check_storage_id(const char *s)
{
	size_t n = strlen(s);

	return word(s, lower, lower_digit, "_.-", 64) &&
	    (n == 1 || lower_digit((unsigned char)s[n - 1]));
}

static int
pool_char(int c)
{
	return alnum(c) || c == '_' || c == '-';
}

int
hl_check_pool(const char *s)
{
	return word(s, pool_char, pool_char, "", 64);
}

int
hl_check_bridge(const char *s)
{
	return word(s, alpha, alnum, "_.-", 15);
}

int
hl_check_cluster_name(const char *s)
{
	return word(s, alnum, alnum, "-", 15);
}

int
hl_check_env_name(const char *s)
{
	return word(s, upper_under, upper_digit, "_", 64);
}

static int
alpha_under(int c)
{
	return alpha(c) || c == '_';
}

int
hl_check_var_name(const char *s)
{
	return word(s, alpha_under, alnum, "_", 64);
}

int
hl_check_ipv4(const char *s, uint32_t *addr)
{
	uint32_t a = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0;
		int n = 0;

		if (part > 0 && *s++ != '.')
			return 0;
		if (*s == '0' && digit((unsigned char)s[1]))
			return 0;	/* leading zeros read as octal elsewhere */
		while (digit((unsigned char)*s) && n < 4)
			v = v * 10 + (unsigned)(*s++ - '0'), n++;
		if (n == 0 || v > 255)
			return 0;
		a = (a << 8) | v;
	}
	if (*s != '\0')
		return 0;
	if (addr)
		*addr = a;
	return 1;
}

int
hl_check_cidr(const char *s, uint32_t *addr, int *prefix)
{
	const char *slash = strrchr(s, '/');
	char ip[16];
	int p = 0;

	if (slash == NULL || (size_t)(slash - s) >= sizeof(ip))
		return 0;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (!hl_check_ipv4(ip, addr))
		return 0;
	s = slash + 1;
	if (!digit((unsigned char)s[0]) || (s[0] == '0' && s[1]) ||
	    (s[1] && !digit((unsigned char)s[1])) || (s[1] && s[2]))
		return 0;
	p = s[1] ? (s[0] - '0') * 10 + (s[1] - '0') : s[0] - '0';
	if (p < 8 || p > 32)
		return 0;
	if (prefix)
		*prefix = p;
	return 1;
}

int
hl_check_mac(const char *s, char out[18])
{
	int i;

	if (strlen(s) != 17)
		return 0;
	for (i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !hex((unsigned char)s[i]))
			return 0;
		out[i] = (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 32 : s[i]);
	}
	out[17] = '\0';
	/* The low bit of the first octet marks multicast. */
	if ((hex((unsigned char)s[1]) && strchr("13579BDFbdf", s[1])) ||
	    strcmp(out, "00:00:00:00:00:00") == 0)
		return 0;
	return 1;
}

int
hl_check_fingerprint(const char *s)
{
	int i;

	if (strlen(s) != 32 * 3 - 1)
		return 0;
	for (i = 0; i < 32 * 3 - 1; i++)
		if (i % 3 == 2 ? s[i] != ':' : !hex((unsigned char)s[i]))
			return 0;
	return 1;
}

int
hl_check_url(const char *s, int https_only)
{
	const char *host, *end;
	size_t i;

	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (!https_only && strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return 0;
	end = host + strcspn(host, "/?#");
	if (end == host)
		return 0;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
	return 1;
}

int
hl_check_checksum(const char *s)
{
	size_t n, i;

	if (strncmp(s, "sha256:", 7) == 0)
		n = 64, s += 7;
	else if (strncmp(s, "sha512:", 7) == 0)
		n = 128, s += 7;
	else
		return 0;
	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (!hex((unsigned char)s[i]))
			return 0;
	return 1;
}

int
hl_check_path(const char *s)
{
	const char *p = s;

	if (*s == '\0' || strlen(s) > 4096)
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			return 0;
	for (p = s; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		while (*p == '/')
			p++;
	}
	return 1;
}

int
hl_check_size(const char *s, uint64_t *bytes, const char **why)
{
	uint64_t v = 0;
	const char *p = s;
	int shift;

	if (!digit((unsigned char)*p)) {
		*why = "needs a number and a unit, e.g. 2G or 512M";
		return 0;
	}
	while (digit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10) {
			*why = "is too large";
			return 0;
		}
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	switch (*p) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case '\0':
		*why = "needs a unit (K, M, G or T, binary), e.g. 2G or 512M";
		return 0;
	default:
		*why = *p == '.' ? "must be a whole number of the unit "
		    "(write 1536M, not 1.5G)" : "has an unknown unit (use K, M, "
		    "G or T, binary)";
		return 0;
	}
	p++;
	if (strcmp(p, "iB") != 0 && *p != '\0') {
		*why = strcmp(p, "B") == 0 ? "is ambiguous: write G or GiB "
		    "(binary), not GB" : "has an unknown unit (use K, M, G or "
		    "T, binary)";
		return 0;
	}
	if (v > (UINT64_MAX >> shift)) {
		*why = "is too large";
		return 0;
	}
	*bytes = v << shift;
	return 1;
}

/* Edit distance counting a swap of neighbours as one edit (OSA). */
size_t
hl_check_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, d[33][33];

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}
