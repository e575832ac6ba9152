// class Decoy in a comment must not be taken for the main class
public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from Java");
    }
}
