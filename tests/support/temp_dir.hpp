// A scratch directory for one test, removed with everything in it when the test ends. Shared by
// the unit and the integration tests.
#pragma once

#include <string>

namespace ge_test {

class TempDir {
  public:
    TempDir();  // under $TMPDIR (or /tmp); throws std::runtime_error if it cannot be made
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }

    // Writes `content` to `name` inside the directory and returns the file's full path. Throws
    // std::runtime_error if the file cannot be written.
    std::string write(const std::string& name, const std::string& content) const;

  private:
    std::string path_;
};

}  // namespace ge_test
