// The web page (web/index.html, app.js, app.css), compiled into the server so that `longqa
// serve` needs no files beside it and works offline: GET / and GET /web/<file>. The page
// itself needs no key; the API calls it makes do.
#pragma once
#include <optional>
#include <string>

#include "responses.h"

namespace longqa::server {

// The page's file for GET or HEAD of `path` ("/", "/web/app.js", ...), with its content type
// and a Content-Security-Policy that allows nothing but this server; nullopt for other paths.
std::optional<Response> web_asset(const std::string& method, const std::string& path);

}  // namespace longqa::server
