// C++: two transfers lock the same pair of accounts in opposite orders
// with std::lock_guard on std::mutex members, one after the other (no
// hang). libstdc++ reaches pthread_mutex_lock through gthreads, so
// lockhound sees the inversion; explain must name the C++ functions and
// locks as a C++ programmer writes them.
#include <mutex>
#include <thread>

namespace bank {

struct Account {
	std::mutex mu;
	long balance = 100;
};

Account checking, savings;

class Teller {
public:
	static void transfer(Account &from, Account &to, long amount)
	{
		std::lock_guard<std::mutex> first(from.mu);
		std::lock_guard<std::mutex> second(to.mu);
		from.balance -= amount;
		to.balance += amount;
	}
};

} // namespace bank

int
main()
{
	std::thread a([] { bank::Teller::transfer(bank::checking, bank::savings, 10); });
	a.join();
	std::thread b([] { bank::Teller::transfer(bank::savings, bank::checking, 5); });
	b.join();
	return bank::checking.balance + bank::savings.balance == 200 ? 0 : 1;
}
