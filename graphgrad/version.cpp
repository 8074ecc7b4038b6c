#include "graphgrad/version.h"

namespace gg {

const char* version() { return GRAPHGRAD_VERSION; }

}  // namespace gg
