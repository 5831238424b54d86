// orchctl: kubectl for liborch. Everything happens in orch::cli::run_orchctl (lib/cli).
#include <iostream>
#include <string>
#include <vector>

#include "orch/cli/orchctl.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return orch::cli::run_orchctl(args, std::cout, std::cerr, std::cin);
}
