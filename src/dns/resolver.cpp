#include "rdns/dns/resolver.h"

#include <future>

namespace rdns::dns {

Answer Resolver::resolve(const std::string& name, RrType type, QueryOptions options) {
  auto promise = std::make_shared<std::promise<Answer>>();
  auto future = promise->get_future();
  resolve_async(name, type, options,
                [promise](Answer answer) { promise->set_value(std::move(answer)); });
  return future.get();
}

}  // namespace rdns::dns
