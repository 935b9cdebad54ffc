// vigil-collector: the composition root lives in CollectorApp.
#include <Poco/Exception.h>

#include <iostream>

#include "collector/app/collector_app.h"

int main(int argc, char** argv) {
  try {
    vigil::collector::CollectorApp app;
    return app.run(argc, argv);
  } catch (const Poco::Exception& e) {
    std::cerr << "vigil-collector: " << e.displayText() << std::endl;
    return Poco::Util::Application::EXIT_SOFTWARE;
  }
}
