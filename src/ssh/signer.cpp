#include "ssh/signer.hpp"

#include "ssh/crypto/host_key.hpp"
#include "ssh/crypto/private_key.hpp"

namespace cr::ssh {
namespace {

class KeySigner final : public Signer {
 public:
  explicit KeySigner(std::shared_ptr<const crypto::PrivateKey> key) : key_(std::move(key)) {}

  std::vector<std::uint8_t> public_key_blob() const override { return key_->public_key_blob(); }

  asio::awaitable<runtime::Result<std::vector<std::uint8_t>>> sign(std::string algorithm,
                                                                   std::vector<std::uint8_t> data) override {
    co_return key_->sign(algorithm, data);
  }

 private:
  std::shared_ptr<const crypto::PrivateKey> key_;
};

}  // namespace

std::string key_type(const Signer& signer) {
  auto type = crypto::key_blob_type(signer.public_key_blob());
  return type ? std::move(*type) : std::string("unknown");
}

std::vector<std::string> signature_algorithms(const Signer& signer) {
  return crypto::signature_algorithms_for(key_type(signer));
}

std::shared_ptr<Signer> make_signer(std::shared_ptr<const crypto::PrivateKey> key) {
  return std::make_shared<KeySigner>(std::move(key));
}

}  // namespace cr::ssh
