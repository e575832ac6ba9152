public class UseLib {
    public static void main(String[] args) { System.out.println("answer " + Lib.answer()); }
}
