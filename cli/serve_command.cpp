// `longqa serve`: gathers the settings (flags > LONGQA_* environment > JSON config file >
// defaults) and runs the server library until SIGINT or SIGTERM.
#include <cstdlib>
#include <map>
#include <string>

#include "args.h"
#include "commands.h"
#include "longqa/threads.h"
#include "server/server.h"
#include "server/settings.h"

namespace longqa::cli {

int serve_command(const Argv& argv) {
  Args args("serve",
            "Serves the HTTP API v1: POST /v1/ask, /v1/read, /v1/retrieve; POST /v1/documents, GET and DELETE\n"
            "/v1/documents/{id}; GET /health, /metrics (Prometheus), /v1/info, /openapi.json. Without --index only\n"
            "/v1/read answers. Every setting below is also an environment variable (named in brackets) and a\n"
            "key of the --config file (the name with underscores, e.g. {\"max_batch_size\": 16}); flags win\n"
            "over the environment, the environment over the file, the file over the defaults. SIGINT or\n"
            "SIGTERM shut down gracefully: no new connections, in-flight requests finish, exit 0.");
  args.option("config", "JSON file of settings [LONGQA_CONFIG]");
  const server::ServerSettings defaults;
  for (const auto& spec : server::setting_specs()) {
    const std::string shown = spec.show(defaults);
    const std::string help = spec.help + " [" + spec.env() + "; " +
                             (spec.name == "reader" ? std::string("required")
                                                    : "default " + (shown.empty() ? std::string("none") : shown)) +
                             "]";
    if (spec.is_bool)
      args.flag(spec.flag(), help);
    else
      args.option(spec.flag(), help);
  }
  if (!args.parse(argv)) return 0;

  std::map<std::string, std::string> flags;
  for (const auto& spec : server::setting_specs())
    if (args.is_set(spec.flag())) flags[spec.name] = args.get(spec.flag());
  const char* config_env = std::getenv("LONGQA_CONFIG");
  const std::string config = args.is_set("config") ? args.get("config") : config_env ? config_env : "";
  const auto settings =
      server::resolve_settings(flags, server::settings_from_environment([](const char* name) { return std::getenv(name); }), config);

  set_compute_threads(static_cast<int>(settings.reader_threads));  // process-wide: the application sets it
  server::Server server(settings);
  return server.run();
}

}  // namespace longqa::cli
