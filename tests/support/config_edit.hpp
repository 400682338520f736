// Editing a running engine's config file, as a user does before SIGHUP or POST /admin/reload.
#pragma once

#include <string>

namespace ge_test {

// Replaces the first `from` in the file with `to`; REQUIREs that `from` is there.
void rewrite(const std::string& path, const std::string& from, const std::string& to);

}  // namespace ge_test
