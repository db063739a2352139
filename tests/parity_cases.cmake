# Golden fixture cases, each run through `diffuse parity` exactly as a user would.
# The test passes only if every output of the case is within its tolerance.
set(DIFFUSE_GOLDEN ${CMAKE_CURRENT_SOURCE_DIR}/tests/golden)

function(diffuse_parity_case name)
  # Extra arguments are passed to `diffuse parity` (e.g. --dtype bf16).
  set(test_name parity.${name})
  if(ARGN)
    string(REPLACE ";" "" suffix "${ARGN}")
    string(REPLACE "--" "." suffix "${suffix}")
    set(test_name ${test_name}${suffix})
  endif()
  add_test(NAME ${test_name} COMMAND diffuse parity ${DIFFUSE_GOLDEN}/${name} ${ARGN})
  set_tests_properties(${test_name} PROPERTIES TIMEOUT 900)
endfunction()

foreach(family chroma ernie_image flux flux_schnell nucleusmoe_image qwenimage z_image)
  diffuse_parity_case(scheduler_flowmatch_${family})
endforeach()
diffuse_parity_case(torch_randn)
diffuse_parity_case(autoencoder_kl_flux1_decode)
diffuse_parity_case(autoencoder_kl_flux1_decode --dtype bf16)
diffuse_parity_case(autoencoder_kl_flux1_encode)
diffuse_parity_case(autoencoder_kl_flux1_encode --dtype bf16)
