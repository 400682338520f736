#include "http/http_date.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <ctime>

namespace gradatum::http {

const std::string& http_date_now() {
    thread_local time_t formatted_at = 0;
    thread_local std::string text;
    const time_t now = ::time(nullptr);
    if (now != formatted_at) {
        text = Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(now),
                                               Poco::DateTimeFormat::HTTP_FORMAT);
        formatted_at = now;
    }
    return text;
}

}  // namespace gradatum::http
