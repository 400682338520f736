// The routing fields of a JSON request body ("model", "stream"), found by a scan that builds
// nothing it skips: a vision request carries MiB of base64 before its "model".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gradatum::proxy {

struct BodyFields {
    std::optional<std::string> model;  // the top-level "model" string, escapes decoded (UTF-8)
    bool stream = false;               // the top-level "stream" is the literal true
};

// Scans a JSON body for its top-level "model" and "stream" and stops once both are seen, or at
// the end of the top-level object. Everything else is checked as nlohmann's parser checks it
// (grammar, escapes, UTF-8, number overflow) but not built: strings are skipped 16 bytes at a
// time, containers by depth.
//
// Rules, chosen to match what llama-server (nlohmann) would make of the same body:
//  - a body that is not valid JSON up to where the scan stops gives nothing (model unset, stream
//    false): the child rejects it anyway, and a half-read body routes nowhere special. A body cut
//    or broken *after* both fields still gives them (the scan never gets there).
//  - the first of duplicate top-level keys wins (the scan stops at it, as the SAX scan did);
//  - a top-level value that is not an object gives nothing; a "model" that is not a string leaves
//    the model unset; "stream" is true only for the literal true ("true" the string is false).
//  - as in nlohmann: one UTF-8 byte-order mark at the very start is skipped, and a NUL byte after
//    the top-level object ends the body (what follows it is not read).
BodyFields scan_body_fields(std::string_view body);

}  // namespace gradatum::proxy
