public class Error {
    public static void main(String[] args) { int x = undeclaredVariable; }
}
