{
  "targets": [
    {
      "target_name": "stella_bpf",
      "sources": ["addon/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=gnu++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["<!@(pkg-config --libs libbpf)"],
      "cflags": ["<!@(pkg-config --cflags libbpf)"]
    }
  ]
}
