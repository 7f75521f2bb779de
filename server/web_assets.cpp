#include "web_assets.h"

#include <map>

namespace longqa::server {

namespace web {
extern const char* const k_index_html;  // web/, embedded by CMake (web_assets_text.cpp)
extern const char* const k_app_js;
extern const char* const k_app_css;
}  // namespace web

std::optional<Response> web_asset(const std::string& method, const std::string& path) {
  if (method != "GET" && method != "HEAD") return std::nullopt;
  struct Asset {
    const char* const* text;
    const char* content_type;
  };
  static const std::map<std::string, Asset> assets = {
      {"/", {&web::k_index_html, "text/html; charset=utf-8"}},
      {"/index.html", {&web::k_index_html, "text/html; charset=utf-8"}},
      {"/web/app.js", {&web::k_app_js, "text/javascript; charset=utf-8"}},
      {"/web/app.css", {&web::k_app_css, "text/css; charset=utf-8"}},
  };
  const auto it = assets.find(path.substr(0, path.find('?')));
  if (it == assets.end()) return std::nullopt;
  Response r;
  r.content_type = it->second.content_type;
  r.body = *it->second.text;
  r.endpoint = "web";
  r.headers = {{"Cache-Control", "no-cache"},
               {"X-Content-Type-Options", "nosniff"},
               {"Referrer-Policy", "no-referrer"},
               {"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
                "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"}};
  return r;
}

}  // namespace longqa::server
