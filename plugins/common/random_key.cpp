#include "common/random_key.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace plugin_common {

std::string random_key() {
    unsigned char bytes[kSpawnKeyBytes];
    size_t filled = 0;
    while (filled < sizeof bytes) {
        ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        filled += static_cast<size_t>(n);
    }
    static const char kHex[] = "0123456789abcdef";
    std::string key;
    key.reserve(2 * sizeof bytes);
    for (unsigned char b : bytes) {
        key += kHex[b >> 4];
        key += kHex[b & 0x0f];
    }
    return key;
}

}  // namespace plugin_common
