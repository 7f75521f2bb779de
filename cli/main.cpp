#include <torch/torch.h>
#include <iostream>
int main(){ std::cout << at::ones({2}).sum().item<float>() << "\n"; return 0;}
