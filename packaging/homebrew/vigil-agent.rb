# Homebrew formula of vigil-agent, the Vigil presence agent, built from the release's source
# tarball (the collector, tests and tools are not built). For a tap:
#   brew tap vigil-presence/vigil https://github.com/vigil-presence/homebrew-vigil
#   brew install vigil-agent
#
# The tag in url is the project version (CMakeLists.txt); tests/packaging/check_versions.sh
# fails when it names another one. sha256 is a placeholder (64 zeros) until the release: the
# release script writes the SHA-256 of the tag's tarball here before the formula goes to the
# tap; with the placeholder brew refuses the download (checksum mismatch).
class VigilAgent < Formula
  desc "Presence agent that reports this Mac to a Vigil collector with signed heartbeats"
  homepage "https://github.com/vigil-presence/vigil"
  url "https://github.com/vigil-presence/vigil/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"
  head "https://github.com/vigil-presence/vigil.git", branch: "main"

  depends_on "cmake" => :build
  depends_on "cjson"
  depends_on "curl"
  depends_on "openssl@3"

  def install
    args = %W[
      -DVIGIL_BUILD_COLLECTOR=OFF
      -DVIGIL_BUILD_TESTS=OFF
      -DVIGIL_BUILD_TOOLS=OFF
      -DOPENSSL_ROOT_DIR=#{Formula["openssl@3"].opt_prefix}
    ]
    system "cmake", "-S", ".", "-B", "build", *args, *std_cmake_args
    system "cmake", "--build", "build"
    system "cmake", "--install", "build"
  end

  # The service's --config file must exist: an empty one (comments only) is made once and
  # then left to the admin. The agent's state stays in its macOS default,
  # /Library/Application Support/Vigil/agent, created by the agent (root, 0700).
  def post_install
    (etc/"vigil").mkpath
    conf = etc/"vigil/agent.conf"
    return if conf.exist?

    conf.write <<~EOS
      # vigil-agent settings: one "key = value" per line; the keys are in
      # https://github.com/vigil-presence/vigil/blob/main/docs/agent.md
    EOS
    conf.chmod 0600
  end

  # As root (sudo brew services start vigil-agent): restarted when it fails, not after a
  # clean stop (exit 0).
  service do
    run [opt_bin/"vigil-agent", "--config", etc/"vigil/agent.conf"]
    keep_alive successful_exit: false
    require_root true
    log_path var/"log/vigil-agent.log"
    error_log_path var/"log/vigil-agent.log"
  end

  def caveats
    <<~EOS
      vigil-agent runs as root. Enroll it with your collector once, then start the service:
        sudo vigil-agent enroll --config #{etc}/vigil/agent.conf --server URL --token T
        sudo brew services start vigil-agent
      Settings: #{etc}/vigil/agent.conf. State: /Library/Application Support/Vigil/agent.
      Before uninstalling, stop it and retire it, so the collector raises no offline alert:
        sudo brew services stop vigil-agent
        sudo vigil-agent retire --config #{etc}/vigil/agent.conf
    EOS
  end

  test do
    assert_match "vigil-agent #{version}", shell_output("#{bin}/vigil-agent --version")
  end
end
