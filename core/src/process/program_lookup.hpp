// Resolving a program name the way execve will be given it.
#pragma once

#include <optional>
#include <string>

namespace gradatum {

// A name with a '/' is taken as a path; otherwise each PATH entry is tried. Returns the absolute
// path of an executable regular file, or nothing.
std::optional<std::string> find_program(const std::string& program);

}  // namespace gradatum
