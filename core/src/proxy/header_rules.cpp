#include "header_rules.hpp"

#include <Poco/String.h>
#include <Poco/StringTokenizer.h>

#include <set>

namespace gradatum::proxy {

namespace {

std::string lower(const std::string& s) {
    return Poco::toLower(s);
}

}  // namespace

bool is_hop_by_hop(const std::string& name) {
    static const std::set<std::string> names = {"connection",
                                                "keep-alive",
                                                "proxy-authenticate",
                                                "proxy-authorization",
                                                "proxy-connection",
                                                "te",
                                                "trailer",
                                                "transfer-encoding",
                                                "upgrade",
                                                "expect"};
    return names.count(lower(name)) > 0;
}

void copy_end_to_end_headers(const Poco::Net::MessageHeader& from, Poco::Net::MessageHeader& to) {
    std::set<std::string> named_by_connection;
    for (auto it = from.find("Connection");
         it != from.end() && Poco::icompare(it->first, "Connection") == 0; ++it) {
        Poco::StringTokenizer tokens(
            it->second, ",",
            Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
        for (const auto& token : tokens) named_by_connection.insert(lower(token));
    }
    for (const auto& [name, value] : from) {
        std::string key = lower(name);
        if (is_hop_by_hop(key) || key == "host" || key == "content-length" ||
            named_by_connection.count(key)) {
            continue;
        }
        to.add(name, value);
    }
}

}  // namespace gradatum::proxy
