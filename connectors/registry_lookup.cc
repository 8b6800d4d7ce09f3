#include "connectors/registry.h"

namespace earshot {

const ConnectorDescriptor* FindConnector(std::string_view name) {
  for (const ConnectorDescriptor* c : AllConnectors()) {
    if (c->name == name) return c;
  }
  return nullptr;
}

}  // namespace earshot
