/*
 * Unit tests of the embedded browser assets (src/http/assets.c and the table
 * scripts/embed-assets.py generates): every asset is found by its hashed name
 * and by nothing else, names and URLs have the promised shape, gzip variants
 * are smaller, and Accept-Encoding is read the way RFC 9110 says. The route
 * itself is tested end to end in tests/integration/test_browser_smoke.py.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "http/http_internal.h"

/* "console.js" -> "console.<8 lowercase hex>.js" */
static bool hashed_form(const char *logical, const char *hashed)
{
    const char *dot = strrchr(logical, '.');
    if (!dot)
        return false;
    size_t stem = (size_t)(dot - logical);
    if (strlen(hashed) != strlen(logical) + 9 || strncmp(hashed, logical, stem) != 0 ||
        hashed[stem] != '.' || strcmp(hashed + stem + 9, dot) != 0)
        return false;
    for (size_t i = stem + 1; i < stem + 9; i++)
        if (!isxdigit((unsigned char)hashed[i]) || isupper((unsigned char)hashed[i]))
            return false;
    return true;
}

TEST(every_asset_is_found_by_its_hashed_name)
{
    for (size_t i = 0; i < dw_http_assets_count; i++) {
        const struct dw_http_asset *a = &dw_http_assets_table[i];
        ASSERT_TRUE(dw_http_asset_find(a->hashed) == a);
        ASSERT_EQ_STR(dw_http_asset_url(a->logical), a->url);
        char url[256];
        snprintf(url, sizeof url, "/assets/%s", a->hashed);
        ASSERT_EQ_STR(a->url, url);
        ASSERT_TRUE(hashed_form(a->logical, a->hashed));
        ASSERT_TRUE(a->etag[0] == '"' && a->etag[strlen(a->etag) - 1] == '"');
        ASSERT_TRUE(strcmp(a->etag, a->etag_gzip) != 0);
        ASSERT_NOT_NULL(a->content_type);
        ASSERT_TRUE(a->len > 0);
        if (a->gzip)
            ASSERT_TRUE(a->gzip_len < a->len);
        if (i > 0) /* bsearch needs strcmp order */
            ASSERT_TRUE(strcmp(dw_http_assets_table[i - 1].hashed, a->hashed) < 0);
    }
}

TEST(unknown_and_logical_names_are_not_found)
{
    ASSERT_NULL(dw_http_asset_find(NULL));
    ASSERT_NULL(dw_http_asset_find(""));
    ASSERT_NULL(dw_http_asset_find("console.00000000.js"));
    ASSERT_NULL(dw_http_asset_find("../meson.build"));
    ASSERT_NULL(dw_http_asset_url(NULL));
    ASSERT_NULL(dw_http_asset_url("no-such-asset.js"));
    for (size_t i = 0; i < dw_http_assets_count; i++) {
        ASSERT_NULL(dw_http_asset_find(dw_http_assets_table[i].logical));
        ASSERT_NULL(dw_http_asset_url(dw_http_assets_table[i].hashed));
    }
}

TEST(the_console_bundle_is_embedded)
{
#ifdef DW_WEB_ASSETS
    const char *url = dw_http_asset_url("console.js");
    ASSERT_NOT_NULL(url);
    const struct dw_http_asset *a = dw_http_asset_find(url + strlen("/assets/"));
    ASSERT_NOT_NULL(a);
    ASSERT_EQ_STR(a->content_type, "text/javascript; charset=utf-8");
    ASSERT_NOT_NULL(dw_http_asset_url("console.css"));
#else
    ASSERT_EQ_UINT(dw_http_assets_count, 0); /* -Dweb_assets=false embeds nothing */
#endif
}

TEST(accept_encoding_admits_gzip)
{
    ASSERT_TRUE(dw_http_accepts_gzip("gzip"));
    ASSERT_TRUE(dw_http_accepts_gzip("gzip, deflate, br, zstd"));
    ASSERT_TRUE(dw_http_accepts_gzip("br;q=1.0, GZIP;q=0.5"));
    ASSERT_TRUE(dw_http_accepts_gzip("x-gzip"));
    ASSERT_TRUE(dw_http_accepts_gzip("*"));
    ASSERT_TRUE(dw_http_accepts_gzip("deflate ,gzip ;q=0.001"));
    ASSERT_TRUE(dw_http_accepts_gzip("gzip;level=1;q=1"));
}

TEST(accept_encoding_refuses_gzip)
{
    ASSERT_FALSE(dw_http_accepts_gzip(NULL));
    ASSERT_FALSE(dw_http_accepts_gzip(""));
    ASSERT_FALSE(dw_http_accepts_gzip("identity"));
    ASSERT_FALSE(dw_http_accepts_gzip("br, deflate"));
    ASSERT_FALSE(dw_http_accepts_gzip("gzip;q=0"));
    ASSERT_FALSE(dw_http_accepts_gzip("gzip; q=0.000, br"));
    ASSERT_FALSE(dw_http_accepts_gzip("*;q=0"));
    ASSERT_FALSE(dw_http_accepts_gzip("gzipped, xgzip"));
}

TEST_MAIN()
