// `gradatum-engine --check`: validates a config as a start would (the file, the plugins and each
// model's backend settings, the TLS files, every listen address) and starts nothing: no child,
// no listener. Every problem is reported, not only the first.
#pragma once

#include <string>
#include <vector>

namespace gradatum::check {

struct Report {
    std::vector<std::string> problems;  // one "file: key: message" each, in the order found
    std::string summary;                // one line, when there is no problem
    bool ok() const { return problems.empty(); }
};

Report run(const std::string& config_path, const std::string& plugin_dir);

// The listen address can be used on this machine, without binding its port: a socket of its
// family is bound to the address with port 0 and closed at once. Returns "" or why not.
std::string listen_address_problem(const std::string& host);

}  // namespace gradatum::check
