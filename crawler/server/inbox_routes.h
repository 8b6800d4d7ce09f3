// The web inbox over HTTP (docs/inbox.md): GET and HEAD of "/" (the app
// shell) and "/assets/..." (InboxAssets), answered on the API's listener.
// ApiServer sends every path outside /api here (IsApiTarget).
//
// Every answer, 404s and 405s included, carries the inbox's security
// headers: kInboxContentSecurityPolicy, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer. The app shell is never cached (no-store);
// assets are revalidated by their ETag (no-cache; If-None-Match -> 304).
// A pure function of its arguments: thread-safe.
#pragma once

#include <string_view>

#include "crawler/inbox/inbox_assets.h"
#include "crawler/server/api_routes.h"

namespace earshot {

inline constexpr std::string_view kInboxContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

// True for "/api" and "/api/...", with or without a query string.
bool IsApiTarget(std::string_view target);

ApiResponse ServeInbox(const InboxAssets& assets, const ApiRequest& request);

}  // namespace earshot
