import java.util.Scanner;
public class SumMain {
    public static void main(String[] args) {
        Scanner s = new Scanner(System.in);
        long a = s.nextLong(), b = s.nextLong();
        System.out.println(a + b);
    }
}
